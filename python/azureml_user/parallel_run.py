"""azureml_user.parallel_run: EntryScript, as inside an Azure ML parallel job."""
from parallelrun import EntryScript

__all__ = ["EntryScript"]
