from django import forms
from django.core.validators import RegexValidator

from accounts.models import Organisation
from mesh.models import MeshMailbox


class MeshMailboxForm(forms.Form):
    mailbox_id = forms.CharField(
        label="MESH mailbox id",
        required=False,
        max_length=20,
        validators=[
            RegexValidator(r"^[A-Za-z0-9]+$", "Enter the mailbox id as NHS England gave it: letters and digits only.")
        ],
    )

    def __init__(self, *args, local_authority: Organisation, **kwargs):
        super().__init__(*args, **kwargs)
        self.local_authority = local_authority

    def clean_mailbox_id(self) -> str:
        mailbox_id = self.cleaned_data["mailbox_id"].strip().upper()
        taken = MeshMailbox.objects.filter(mailbox_id=mailbox_id).exclude(local_authority=self.local_authority)
        if mailbox_id and taken.exists():
            raise forms.ValidationError("Another local authority already has this mailbox.")
        return mailbox_id
