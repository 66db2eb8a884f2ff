"""The shared backoff: doubles from ``base``, never above ``cap``, safe for any attempt."""

from twinspace.retry import backoff


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n, 0.25, 30.0) for n in range(4)] == [0.25, 0.5, 1.0, 2.0]
    assert backoff(10, 0.25, 30.0) == 30.0
    assert backoff(10_000, 0.5, 300.0) == 300.0  # no overflow however many failures
    assert backoff(-1, 1.0, 10.0) == 1.0
