"""Packaging for Một Cửa Edge: `pip install .` gives the `motcua` command."""

from setuptools import find_packages, setup

setup(
    name="motcua-edge",
    version="0.1.0",
    description="Một Cửa Edge: the commune one-stop office box and its provincial hub",
    python_requires=">=3.11",
    packages=find_packages(include=["edge", "edge.*", "sync", "sync.*", "devices", "devices.*", "ui", "ui.*"]),
    package_data={
        "edge": ["data/*.json"],
        "ui": [
            "openapi.yaml",
            "templates/*.html",
            "templates/*/*.html",
            "static/*/*",
            "translations/*/LC_MESSAGES/*.po",
        ],
        "sync.protocol": ["openapi.yaml", "PROTOCOL.md"],
        "sync.hub": ["templates/*.html", "static/*"],
        "devices.printer": ["fonts/*.ttf", "fonts/LICENSE"],
    },
    install_requires=[
        "sqlite-utils>=4.2,<5",
        "holidays==0.109",
        "flask>=3.1,<4",
        "waitress>=3.0,<4",
        "apscheduler>=3.11,<4",
        "requests>=2.32,<3",
        "pyserial>=3.5,<4",
        "tzdata>=2024.1",
        "PyYAML>=6,<7",
        "flask-babel>=4,<5",
        "flask-wtf>=1.2,<2",
        "qrcode>=8,<9",
        "openpyxl>=3.1,<4",
        "psycopg[binary]>=3.2,<4",
        "orjson>=3.10,<4",
        "python-escpos>=3.1,<4",
        "pillow>=10",
    ],
    extras_require={
        "test": [
            "pytest>=8",
            "pytest-xdist>=3.5,<4",
            "hypothesis>=6.100",
            "schemathesis>=4.3,<5",  # the bad-input sweep of both OpenAPI documents (tests/test_fuzz.py)
            "ruff>=0.6",
            "mypy>=1.10",
            "types-requests",
            "types-PyYAML",
            "types-waitress",
            "types-openpyxl",
            "openapi-core>=0.19,<0.24",
            "trustme>=1.1,<2",
            "playwright>=1.40",
        ],
    },
    entry_points={"console_scripts": ["motcua = edge.cli:main"]},
)
