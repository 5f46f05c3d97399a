"""Tests of the canonical models and the platform normalizers."""
