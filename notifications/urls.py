from django.urls import path

from notifications import receipt_views, views, webhook_views

app_name = "notifications"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("<int:notification_id>/", views.notification_detail, name="notification_detail"),
    path("<int:notification_id>/assign/", views.notification_assign_view, name="notification_assign"),
    path("<int:notification_id>/acknowledge/", views.notification_acknowledge_view, name="notification_acknowledge"),
    path("deliveries/failed/", views.deliveries_failed, name="deliveries_failed"),
    path("deliveries/<int:delivery_id>/retry/", views.delivery_retry_view, name="delivery_retry"),
    path("webhook/", webhook_views.webhook_settings, name="webhook_settings"),
    path("webhook/rotate-secret/", webhook_views.webhook_secret_rotate_view, name="webhook_secret_rotate"),
    path("webhook/test/", webhook_views.webhook_test_view, name="webhook_test"),
    # GOV.UK Notify's delivery receipts (its servers call it, with our bearer token).
    path("notify/receipts/", receipt_views.notify_receipt, name="notify_receipt"),
]
