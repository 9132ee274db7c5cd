from django.urls import path

from plans import views

app_name = "plans"

urlpatterns = [
    path("", views.plan_list, name="list"),
    path("new/", views.plan_new, name="new"),
    path("<int:plan_id>/", views.plan_detail, name="detail"),
    path("<int:plan_id>/edit/", views.plan_edit, name="edit"),
    path("<int:plan_id>/end/", views.plan_end_view, name="end"),
    path("<int:plan_id>/withdraw/", views.plan_withdraw_view, name="withdraw"),
    path("uploads/", views.upload, name="upload"),
    path("uploads/template.csv", views.upload_template, name="upload_template"),
    path("uploads/<int:upload_id>/", views.upload_detail, name="upload_detail"),
    path("uploads/<int:upload_id>/confirm/", views.upload_confirm, name="upload_confirm"),
    path("uploads/<int:upload_id>/cancel/", views.upload_cancel, name="upload_cancel"),
    path("uploads/<int:upload_id>/progress/", views.upload_progress_view, name="upload_progress"),
    path("uploads/<int:upload_id>/rejected-rows.csv", views.upload_rejections, name="upload_rejections"),
    path("contacts/", views.contacts, name="contacts"),
]
