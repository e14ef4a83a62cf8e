"""The school resource portal: teachers' 提升工程2.0 submissions become a static campus site.

Stages, each a module, data flowing one way:
    intake (validate) -> extract (derive text, cached) -> generate (pages) -> build (MkDocs, chrome)
"""

__version__ = "0.1.0"
