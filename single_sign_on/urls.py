from django.urls import path

from single_sign_on import views

app_name = "single_sign_on"

urlpatterns = [
    path("sign-in/organisation/", views.provider_choose, name="choose"),
    path("sign-in/organisation/callback/", views.callback, name="callback"),
    # The public halves of our private_key_jwt client keys, for providers to fetch.
    path("sign-in/organisation/jwks.json", views.jwks, name="jwks"),
    # Called by the provider's server (OpenID Connect Back-Channel Logout), never by a browser.
    path("sign-in/organisation/back-channel-logout/", views.back_channel_logout, name="back_channel_logout"),
    path("sign-in/organisation/<int:provider_id>/", views.start, name="start"),
    path("sign-in/organisation/<int:provider_id>/signed-out/", views.signed_out, name="signed_out"),
    # The token is in the path as on the invitation page itself; logs redact it.
    path("invitation/<str:token>/organisation-sign-in/", views.invitation_start, name="invitation_start"),
    path("admin/organisations/<int:organisation_id>/single-sign-on/", views.provider_edit, name="provider_edit"),
    path("admin/single-sign-on/links/", views.link_requests, name="link_requests"),
    path("admin/single-sign-on/links/<int:link_request_id>/", views.link_decide, name="link_decide"),
]
