"""Fixtures for the server tests: one loaded default model, apps on temporary galleries, live servers."""

from __future__ import annotations

import pytest
import torch
from fastapi.testclient import TestClient

from pixeldrift.pipeline import load_model
from pixeldrift.server import ServerSettings, create_app
from pixeldrift.server.model_catalog import CatalogEntry, ModelCatalog
from server_helpers import BASE_URL, LiveServer


@pytest.fixture(autouse=True, scope="session")
def single_torch_thread():
    """One torch thread for the whole folder: the images are tiny and the machine is shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def default_model():
    return load_model(None)


def _app(tmp_path, model, settings: dict, name: str):
    """An app on a fresh gallery; settings["models"] = {name: model, ...} serves several models, and
    settings["controls"] = a ControlCatalog (or a function of the model catalog making one) its ControlNets."""
    settings.setdefault("gallery_dir", tmp_path / name)
    models, controls = settings.pop("models", None), settings.pop("controls", None)
    catalog = ModelCatalog([CatalogEntry(n, None, m) for n, m in models.items()]) if models else \
        ModelCatalog.of(model)
    return create_app(ServerSettings(**settings), catalog, controls(catalog) if callable(controls) else controls)


@pytest.fixture
def make_client(tmp_path, default_model):
    """make_client(model=None, **settings) -> a started TestClient on a fresh gallery."""
    clients = []

    def make(model=None, **settings):
        client = TestClient(_app(tmp_path, model or default_model, settings, f"gallery{len(clients)}"),
                            base_url=BASE_URL)
        clients.append(client.__enter__())
        return client
    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client):
    return make_client()


@pytest.fixture
def live_server(tmp_path, default_model):
    """live_server(model=None, models=None, **settings) -> a started LiveServer on 127.0.0.1, stopped after."""
    servers = []

    def start(model=None, **settings):
        app = _app(tmp_path, model or default_model, settings, f"live{len(servers)}")
        servers.append(LiveServer(app).__enter__())
        servers[-1].app = app
        return servers[-1]
    yield start
    for server in servers:
        server.__exit__(None, None, None)
