"""The wrk report parser reads the figures the benchmarks use, in wrk's own units."""

import pytest

from benchmarks.wrk import WrkParseError, parse_duration_ms, parse_size_bytes, parse_wrk_output

REPORT = """Running 5s test @ http://127.0.0.1:8080/apis/ray.io/v1/namespaces/bench/rayclusters/one
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.85ms    1.21ms  30.36ms   91.50%
    Req/Sec     6.62k   412.45     7.16k    84.00%
  Latency Distribution
     50%    4.68ms
     75%    5.01ms
     90%    5.53ms
     99%   12.04ms
  32960 requests in 5.00s, 43.82MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:   6591.21
Transfer/sec:      8.76MB
"""


def test_parses_throughput_percentiles_and_errors() -> None:
    result = parse_wrk_output(REPORT)
    assert result.requests == 32960
    assert result.duration_s == pytest.approx(5.0)
    assert result.rps == pytest.approx(6591.21)
    assert result.p50_ms == pytest.approx(4.68)
    assert result.p99_ms == pytest.approx(12.04)
    assert result.transfer_bytes_per_s == pytest.approx(8.76 * 1024**2)
    assert result.errors == 2 + 3 + 7


def test_clean_run_has_no_errors() -> None:
    clean = REPORT.replace("  Socket errors: connect 0, read 2, write 0, timeout 3\n", "").replace(
        "  Non-2xx or 3xx responses: 7\n", ""
    )
    assert parse_wrk_output(clean).errors == 0


@pytest.mark.parametrize(
    ("text", "ms"), [("464.00us", 0.464), ("1.09ms", 1.09), ("2.01s", 2010.0), ("1.50m", 90_000.0)]
)
def test_durations_convert_to_milliseconds(text: str, ms: float) -> None:
    assert parse_duration_ms(text) == pytest.approx(ms)


def test_sizes_are_binary_multiples() -> None:
    assert parse_size_bytes("1.00KB") == 1024
    assert parse_size_bytes("512.00B") == 512


def test_failed_run_is_an_error_not_zero() -> None:
    with pytest.raises(WrkParseError):
        parse_wrk_output("unable to connect to 127.0.0.1:1 Connection refused\n")
