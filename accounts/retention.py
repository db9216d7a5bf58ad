"""The accounts app's retention stores (kernel.retention): how its records are purged.

Imported from the app's AppConfig.ready()."""
