"""The recorder names each request's limit bucket as the platform counts it."""

from __future__ import annotations

import re

import pytest

from bench.recorder import bucket_of
from sandbox.amazon.app import OPERATIONS


@pytest.mark.parametrize(("method", "path", "operation"), [op[:3] for op in OPERATIONS])
def test_every_amazon_operation_of_the_sandbox_is_its_own_bucket(method, path, operation):
    concrete = re.sub(r"\{[^}]+\}", "A1B2-C3", path)
    assert bucket_of("amazon", method, concrete) == operation


def test_token_and_download_requests_have_their_own_buckets():
    assert bucket_of("amazon", "POST", "/auth/o2/token") == "auth"
    assert bucket_of("amazon", "GET", "/documents/doc-1") == "download"
    assert bucket_of("amazon", "GET", "/nowhere") == "other"
