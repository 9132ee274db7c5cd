from django.urls import path

from administration.views import access_review, invitations, organisations, start, users

app_name = "administration"

urlpatterns = [
    path("admin/", start.index, name="index"),
    # Org admins: their organisation's users.
    path("admin/users/", users.users, name="users"),
    path("admin/users/invite/", users.invite, name="invite"),
    path("admin/users/<int:user_id>/", users.user_detail, name="user_detail"),
    path("admin/users/<int:user_id>/roles/", users.role_grant_view, name="role_grant"),
    path("admin/users/<int:user_id>/roles/<str:role>/remove/", users.role_remove_view, name="role_remove"),
    path("admin/users/<int:user_id>/training/", users.training_record_view, name="training_record"),
    path("admin/users/<int:user_id>/deactivate/", users.user_deactivate_view, name="user_deactivate"),
    path("admin/users/<int:user_id>/reactivate/", users.user_reactivate_view, name="user_reactivate"),
    path("admin/users/<int:user_id>/two-factor/reset/", users.two_factor_reset_view, name="two_factor_reset"),
    path("admin/users/<int:user_id>/password/reset/", users.password_reset_send_view, name="password_reset_send"),
    path("admin/invitations/<int:invitation_id>/cancel/", users.invitation_cancel_view, name="invitation_cancel"),
    path("admin/invitations/<int:invitation_id>/resend/", users.invitation_resend_view, name="invitation_resend"),
    # Org admins (their own) and national admins (any): the access review.
    path("admin/organisations/<int:organisation_id>/access-review/", access_review.access_review, name="access_review"),
    path(
        "admin/organisations/<int:organisation_id>/access-review/record/",
        access_review.access_review_record_view,
        name="access_review_record",
    ),
    path(
        "admin/organisations/<int:organisation_id>/access-review.csv",
        access_review.access_review_csv,
        name="access_review_csv",
    ),
    # National admins: organisations and their admins.
    path("admin/organisations/", organisations.organisations, name="organisations"),
    path("admin/organisations/new/", organisations.organisation_create_view, name="organisation_create"),
    path("admin/organisations/import/", organisations.organisation_import, name="organisation_import"),
    path(
        "admin/organisations/import/confirm/",
        organisations.organisation_import_confirm,
        name="organisation_import_confirm",
    ),
    path(
        "admin/organisations/import/rejected.csv",
        organisations.organisation_import_rejected_csv,
        name="organisation_import_rejected_csv",
    ),
    path("admin/organisations/<int:organisation_id>/", organisations.organisation_detail, name="organisation_detail"),
    path("admin/organisations/<int:organisation_id>/edit/", organisations.organisation_edit, name="organisation_edit"),
    path(
        "admin/organisations/<int:organisation_id>/admins/",
        organisations.org_admin_appoint_view,
        name="org_admin_appoint",
    ),
    path(
        "admin/organisations/<int:organisation_id>/admins/<int:user_id>/remove/",
        organisations.org_admin_remove_view,
        name="org_admin_remove",
    ),
    # Invitees, before they have an account.
    path("invitation/<str:token>/", invitations.invitation_accept_view, name="invitation_accept"),
]
