"""The Chinese edition: catalogs of translations and the build that applies them.

English is the source. ``units`` says which parts of a notebook are translated, ``catalogs``
keeps their translations in gettext ``.po`` files (one per notebook under ``i18n/zh_CN/``),
``library`` extracts and compiles the library's own strings, and ``build`` writes the Chinese
solutions and releases ``course-zh/``.
"""
