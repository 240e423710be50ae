from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Analysis',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=40)),
                ('recording', fields.ForeignKeyField('models.Recording', source_field='recording_id', db_constraint=True, to_field='id', related_name='analyses', on_delete=OnDelete.CASCADE)),
                ('status', fields.CharField(default='queued', max_length=16)),
                ('stage', fields.CharField(null=True, max_length=32)),
                ('progress', fields.FloatField(default=0.0)),
                ('message', fields.TextField(null=True, unique=False)),
                ('error', fields.TextField(null=True, unique=False)),
                ('attempts', fields.IntField(default=0)),
                ('engine_versions', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('timings', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('probe', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('summary', fields.TextField(null=True, unique=False)),
                ('key_findings', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('evidence', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'analyses', 'app': 'models', 'indexes': [Index(fields=['recording_id', 'created_at'], name='analyses_recording_idx')], 'pk_attr': 'id', 'table_description': 'One run of the engine over a recording (``job-…``), with its progress and, once done, results.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AnalysisFrame',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('analysis', fields.ForeignKeyField('models.Analysis', source_field='analysis_id', db_constraint=True, to_field='id', related_name='frames', on_delete=OnDelete.CASCADE)),
                ('position', fields.IntField()),
                ('timestamp', fields.FloatField()),
                ('description', fields.TextField(unique=False)),
                ('text', fields.TextField(unique=False)),
                ('thumbnail_key', fields.CharField(null=True, max_length=512)),
            ],
            options={'table': 'analysis_frames', 'app': 'models', 'indexes': [Index(fields=['analysis_id', 'position'], name='analysis_frames_idx')], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AnalysisSection',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('analysis', fields.ForeignKeyField('models.Analysis', source_field='analysis_id', db_constraint=True, to_field='id', related_name='sections', on_delete=OnDelete.CASCADE)),
                ('position', fields.IntField()),
                ('title', fields.TextField(unique=False)),
                ('timestamp', fields.FloatField()),
                ('end_timestamp', fields.FloatField()),
                ('description', fields.TextField(unique=False)),
                ('citations', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'analysis_sections', 'app': 'models', 'indexes': [Index(fields=['analysis_id', 'position'], name='analysis_sections_idx')], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Finding',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('analysis', fields.ForeignKeyField('models.Analysis', source_field='analysis_id', db_constraint=True, to_field='id', related_name='findings', on_delete=OnDelete.CASCADE)),
                ('position', fields.IntField()),
                ('data', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'analysis_findings', 'app': 'models', 'indexes': [Index(fields=['analysis_id', 'position'], name='analysis_findings_idx')], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TranscriptSegment',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('analysis', fields.ForeignKeyField('models.Analysis', source_field='analysis_id', db_constraint=True, to_field='id', related_name='transcript', on_delete=OnDelete.CASCADE)),
                ('position', fields.IntField()),
                ('start', fields.FloatField()),
                ('end', fields.FloatField()),
                ('text', fields.TextField(unique=False)),
            ],
            options={'table': 'analysis_transcript', 'app': 'models', 'indexes': [Index(fields=['analysis_id', 'position'], name='analysis_transcript_idx')], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Recording',
            name='current_analysis_id',
            field=fields.CharField(null=True, max_length=40),
        ),
    ]
