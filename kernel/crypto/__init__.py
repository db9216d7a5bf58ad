"""Field-level encryption with envelope keys (docs/encryption.md).

master key (environment / KMS)  --wraps-->  workspace key  --wraps-->  subject key
subject key  --AES-GCM-->  field values of one person (crypto-shred = delete it)
"""
