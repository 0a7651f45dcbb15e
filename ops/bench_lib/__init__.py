"""The ATP benchmark (``ops/bench``): servers, fixtures, a light load generator, reports."""
