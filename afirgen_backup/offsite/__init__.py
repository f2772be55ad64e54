"""Off-site copies: every backup, once published locally, also in an S3 bucket (any S3-compatible service),
encrypted with age before it leaves when BACKUP_AGE_RECIPIENTS is set (config/offsite.py has the settings).

store.py talks to the bucket; crypto.py encrypts and decrypts streams; copies.py uploads, checks and records a
copy and catches up after an outage; remote.py reads what the bucket holds; prune.py applies retention to it;
fetch.py brings a copy back for `verify --remote` and `restore --remote`.
"""
