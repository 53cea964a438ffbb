"""The `azureml_user` package of Azure ML's parallel job, for entry scripts
run outside a job (their unit tests): `from azureml_user.parallel_run import
EntryScript` gets parallelrun's EntryScript. Inside a job the workers
provide this module themselves."""
