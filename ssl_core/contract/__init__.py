"""The torch-free contract between ssl_core, the worker and the web app: the catalog of
algorithms, datasets and nets, the run spec and its hyperparameters, the metric and summary rows,
the callback protocol, published references, the settings ssl_core reads and the errors a user
can meet. Nothing here imports torch, so the web app imports only this package from ssl_core.
"""
