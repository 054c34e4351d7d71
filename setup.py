"""Build hook for the optional native log scanner; all other metadata is in pyproject.toml.

`lumos.tools.logs._scan` (tools/logs/_scan.c, CPython C API only) speeds up log template
mining. It is optional: without a C compiler the build step fails quietly and LUMOS uses the
identical pure-Python path (see lumos.tools.logs.native).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "lumos.tools.logs._scan",
            ["tools/logs/_scan.c"],
            optional=True,
        )
    ]
)
