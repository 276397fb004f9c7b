"""Test-support code shipped with Mountie (used by the test suite and by `mountie demo`)."""
