from tests.s3_fixtures import s3_bucket, s3_env, s3_server  # noqa: F401  (fixtures, used by name)
