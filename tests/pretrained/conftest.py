"""Tiny Stable Diffusion folders, built once per test session, and one thread per test."""

from __future__ import annotations

import pytest

from tiny_sd_models import make_controlnet, make_sd1, make_sdxl


@pytest.fixture(autouse=True)
def _single_thread(one_thread):
    """Every test here on one thread (tests/conftest.py says why)."""


@pytest.fixture(scope="session")
def sd1_folder(tmp_path_factory):
    return make_sd1(tmp_path_factory.mktemp("sd1") / "tiny-sd1")


@pytest.fixture(scope="session")
def sd2v_folder(tmp_path_factory):
    return make_sd1(tmp_path_factory.mktemp("sd2v") / "tiny-sd2v", seed=3, prediction_type="v_prediction")


@pytest.fixture(scope="session")
def sdxl_folder(tmp_path_factory):
    return make_sdxl(tmp_path_factory.mktemp("sdxl") / "tiny-sdxl")


@pytest.fixture(scope="session")
def sd1_controlnet(tmp_path_factory, sd1_folder):
    return make_controlnet(tmp_path_factory.mktemp("cn") / "tiny-controlnet-sd1", sd1_folder)


@pytest.fixture(scope="session")
def sd1_controlnet_2(tmp_path_factory, sd1_folder):
    return make_controlnet(tmp_path_factory.mktemp("cn") / "tiny-controlnet-sd1-b", sd1_folder, seed=5)


@pytest.fixture(scope="session")
def sdxl_controlnet(tmp_path_factory, sdxl_folder):
    return make_controlnet(tmp_path_factory.mktemp("cn") / "tiny-controlnet-sdxl", sdxl_folder)
