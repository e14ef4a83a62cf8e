"""Normalising what teachers type into the catalog's canonical names."""

import pytest

from portal.catalog import Catalog


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("B2", "B2"),
        ("b2", "B2"),
        ("Ｂ７", "B7"),
        ("ｂ１０", "B10"),
        ("a6 技术支持的课堂讲授", "A6"),
        ("B2 微课程设计与制作", "B2"),
        ("B2微课程设计与制作", "B2"),
        ("C7：创建数据分析微模型", "C7"),
        (" A13 ", "A13"),
        ("微课程设计与制作", "B2"),
        ("微课设计与制作", "B2"),  # alias from regional documents
    ],
)
def test_point_spellings_normalise_to_code(catalog: Catalog, typed: str, code: str) -> None:
    assert catalog.point(typed) == code


@pytest.mark.parametrize("typed", ["D9", "A14", "B11", "C8", "A0", "微课", "B"])
def test_unknown_points_are_not_guessed(catalog: Catalog, typed: str) -> None:
    assert catalog.point(typed) is None


def test_catalog_has_the_thirty_points_on_a_three_by_four_grid(catalog: Catalog) -> None:
    assert len(catalog.points) == 30
    assert sum(len(catalog.points_in(e, d)) for e in catalog.environments for d in catalog.dimensions) == 30
    assert catalog.points_in("C", "学情分析") == []
    assert catalog.points["B2"].label == "B2 微课程设计与制作 · 混合学习环境 · 教学设计"


@pytest.mark.parametrize(
    ("lookup", "typed", "name"),
    [
        ("subject", "生物", "生物学"),
        ("subject", "信息技术", "信息科技"),
        ("subject", "外语", "英语"),
        ("subject", "数学", "数学"),
        ("grade", "初一", "七年级"),
        ("grade", "初三", "九年级"),
        ("grade", "一年级", "一年级"),
        ("resource_type", "反思", "教学反思"),
        ("resource_type", "课件", "演示文稿"),
        ("resource_type", "ppt", "演示文稿"),
        ("resource_type", "课堂实录片段", "课堂实录"),
    ],
)
def test_aliases_resolve_to_catalog_names(catalog: Catalog, lookup: str, typed: str, name: str) -> None:
    assert getattr(catalog, lookup)(typed) == name


@pytest.mark.parametrize(("lookup", "typed"), [("subject", "哲学"), ("grade", "十年级"), ("resource_type", "论文")])
def test_unknown_values_are_refused(catalog: Catalog, lookup: str, typed: str) -> None:
    assert getattr(catalog, lookup)(typed) is None
