"""What the app computes from stored runs: comparisons, statistics, sweeps, diagnosis notes,
result tables and their exports. It reads and writes through ``app.store`` and knows nothing
of HTTP; its functions take typed values (lists of ids and keys), never query strings."""
