from django.urls import path

from attendances import views

app_name = "attendances"

# No child identifier in any path or query string: checks and searches are POSTs, and the
# LA's child view is reached through the id of a plan or notification that LA owns.
urlpatterns = [
    path("check/", views.child_check_view, name="check"),
    path("check/without-notifying/", views.child_view_silently, name="view_silently"),
    path("check/today/", views.checks_today_view, name="checks_today"),
    path("children/", views.child_find, name="child_find"),
    path("children/plan/<int:plan_id>/", views.child_for_plan, name="child_for_plan"),
    # For the notifications inbox: "see this child's plans and visits".
    path("children/notification/<int:notification_id>/", views.child_for_notification, name="child_for_notification"),
]
