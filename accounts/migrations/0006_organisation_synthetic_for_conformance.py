from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_privacy_officer_role"),
    ]

    operations = [
        migrations.AddField(
            model_name="organisation",
            name="is_synthetic",
            field=models.BooleanField(db_default=False, default=False),
        ),
    ]
