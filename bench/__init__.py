"""runhook benchmarks: ``python -m bench [--quick]`` (``make bench``)."""
