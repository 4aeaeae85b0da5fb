from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("gateways", "0004_e2fields_security_egress"),
    ]

    operations = [
        migrations.AddField(
            model_name="gateway",
            name="telemetry",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
