# A scan's status and end time are its job's (PiiScan.status, PiiScan.finished_at): the scan's own copies go
# (0003 reconciled the jobs with them first). The job foreign key becomes PROTECT: deleting a scan's job would
# lose the scan's status.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("privacy", "0003_scan_jobs_take_scan_outcome"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="piiscan",
            name="finished_at",
        ),
        migrations.RemoveField(
            model_name="piiscan",
            name="status",
        ),
        migrations.AlterField(
            model_name="piiscan",
            name="job",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="core.job",
            ),
        ),
    ]
