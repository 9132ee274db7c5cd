from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("privacy", "0003_baseline_summaries")]

    operations = [
        migrations.AddField(model_name="userbaseline", name="children", field=models.BinaryField(default=b"")),
    ]
