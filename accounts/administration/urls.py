from django.urls import path

from accounts.administration import views

app_name = "administration"

urlpatterns = [
    path("admin/", views.index, name="index"),
    # Org admins: their organisation's users.
    path("admin/users/", views.users, name="users"),
    path("admin/users/invite/", views.invite, name="invite"),
    path("admin/users/<int:user_id>/", views.user_detail, name="user_detail"),
    path("admin/users/<int:user_id>/roles/", views.role_grant_view, name="role_grant"),
    path("admin/users/<int:user_id>/roles/<str:role>/remove/", views.role_remove_view, name="role_remove"),
    path("admin/users/<int:user_id>/training/", views.training_record_view, name="training_record"),
    path("admin/users/<int:user_id>/deactivate/", views.user_deactivate_view, name="user_deactivate"),
    path("admin/users/<int:user_id>/reactivate/", views.user_reactivate_view, name="user_reactivate"),
    path("admin/users/<int:user_id>/two-factor/reset/", views.two_factor_reset_view, name="two_factor_reset"),
    path("admin/invitations/<int:invitation_id>/cancel/", views.invitation_cancel_view, name="invitation_cancel"),
    # Org admins (their own) and national admins (any): the access review.
    path("admin/organisations/<int:organisation_id>/access-review/", views.access_review, name="access_review"),
    path(
        "admin/organisations/<int:organisation_id>/access-review.csv",
        views.access_review_csv,
        name="access_review_csv",
    ),
    # National admins: organisations and their admins.
    path("admin/organisations/", views.organisations, name="organisations"),
    path("admin/organisations/new/", views.organisation_create_view, name="organisation_create"),
    path("admin/organisations/import/", views.organisation_import, name="organisation_import"),
    path("admin/organisations/import/confirm/", views.organisation_import_confirm, name="organisation_import_confirm"),
    path(
        "admin/organisations/import/rejected.csv",
        views.organisation_import_rejected_csv,
        name="organisation_import_rejected_csv",
    ),
    path("admin/organisations/<int:organisation_id>/", views.organisation_detail, name="organisation_detail"),
    path("admin/organisations/<int:organisation_id>/edit/", views.organisation_edit, name="organisation_edit"),
    path(
        "admin/organisations/<int:organisation_id>/admins/",
        views.org_admin_appoint_view,
        name="org_admin_appoint",
    ),
    path(
        "admin/organisations/<int:organisation_id>/admins/<int:user_id>/remove/",
        views.org_admin_remove_view,
        name="org_admin_remove",
    ),
    # Invitees, before they have an account.
    path("invitation/<str:token>/", views.invitation_accept_view, name="invitation_accept"),
]
