from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='User',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('subject', fields.CharField(unique=True, max_length=255)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'users', 'app': 'models', 'pk_attr': 'id', 'table_description': "Someone who signed in; identified by the token's subject."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Recording',
            fields=[
                ('id', fields.UUIDField(primary_key=True, default=uuid4, unique=True, db_index=True)),
                ('owner', fields.ForeignKeyField('models.User', source_field='owner_id', null=True, db_constraint=True, to_field='id', related_name='recordings', on_delete=OnDelete.CASCADE)),
                ('status', fields.CharField(default='pending', max_length=16)),
                ('status_reason', fields.TextField(null=True, unique=False)),
                ('video_upload_status', fields.CharField(default='pending', max_length=16)),
                ('video_upload_error', fields.TextField(null=True, unique=False)),
                ('metadata', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('actions', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('browser_state', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('elements', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('video_content_type', fields.CharField(max_length=64)),
                ('session_id', fields.CharField(null=True, max_length=255)),
                ('duration', fields.FloatField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('claimed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'recordings', 'app': 'models', 'indexes': [Index(fields=['owner_id', 'created_at', 'id'], name='recordings_owner_created_idx'), Index(fields=['created_at'], name='recordings_created_idx')], 'pk_attr': 'id', 'table_description': 'One browser session recording: what the recorder captured plus the state of its video.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='VideoArtifact',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=40)),
                ('recording', fields.ForeignKeyField('models.Recording', source_field='recording_id', db_constraint=True, to_field='id', related_name='artifacts', on_delete=OnDelete.CASCADE)),
                ('object_key', fields.CharField(unique=True, max_length=512)),
                ('content_type', fields.CharField(max_length=64)),
                ('size', fields.BigIntField(null=True)),
                ('state', fields.CharField(max_length=16)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'video_artifacts', 'app': 'models', 'indexes': [Index(fields=['recording_id', 'created_at'], name='artifacts_recording_idx')], 'pk_attr': 'id', 'table_description': 'A video object in storage that belongs to a recording.'},
            bases=['Model'],
        ),
    ]
