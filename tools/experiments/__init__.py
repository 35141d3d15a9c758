"""The experiments layer (docs/architecture.md): training runs, the paper's experiments, their reports, the audit."""
