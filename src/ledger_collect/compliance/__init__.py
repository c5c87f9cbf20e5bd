"""Retention policies, legal holds, GDPR erasure and the archive."""
