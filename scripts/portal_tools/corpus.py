"""A synthetic but realistic corpus of Chinese submissions, for benchmarks and search-quality tests.

Bodies are sentences of ordinary teaching prose with curriculum words planted in them, including
words that contain one another (面积 inside 圆的面积 and 大面积), so that substring search is
tested the way teachers will use it. Everything is derived from a seed: the same seed gives the
same corpus. It is written into a folder the caller names, never into a school's resources/.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from portal.catalog import Catalog

# Words teachers search for; some contain others on purpose.
PLANTED = [
    "钟表", "整时", "半时", "圆的面积", "面积", "大面积", "长方形的面积", "几何画板", "有余数的除法", "余数",
    "核心素养", "课堂观察", "分数的意义", "乘法口诀", "古诗朗读", "静夜思", "光合作用", "浮力", "串联电路",
    "英语绘本", "自然拼读", "思维导图", "小组合作", "项目式学习", "希沃白板", "问卷星", "错题统计",
    "探究实验", "控制变量", "数据可视化", "信息道德", "家校共育", "作品展示", "评价量规", "档案袋",
    "跨学科", "传感器", "编程", "显微镜", "立定跳远", "节奏", "水墨画", "二十四节气", "垃圾分类",
    "平行四边形", "三角形的内角和", "比例尺", "百分数", "统计图", "方程", "函数图像", "勾股定理",
    "化学方程式", "酸碱中和", "细胞结构", "生态系统", "地形图", "时区", "人民代表大会", "法治意识",
    "口语交际", "整本书阅读", "写作提纲",
]

FILLER = [
    "本节课以学生为中心，注重启发学生思考。",
    "教师利用信息技术创设情境，激发学生的学习兴趣。",
    "通过小组讨论，学生能够表达自己的观点。",
    "课后根据学生反馈调整了活动时间的分配。",
    "学生在课堂上积极参与，完成了预设的学习任务。",
    "本环节重点突破教学难点，帮助学生建立概念。",
    "课前推送学习资源，课中组织交流展示。",
    "评价贯穿教学全过程，关注学生的学习表现。",
    "教学设计体现了新课程标准的要求。",
    "部分学生基础薄弱，需要在练习中分层指导。",
    "借助平板电脑及时收集学生的作答情况。",
    "教师示范后，学生独立完成操作并互相检查。",
    "本单元的学习目标是理解并运用相关知识。",
    "反思这节课，时间安排还可以更紧凑一些。",
]

TERMS = ["2021-2022-1", "2021-2022-2", "2022-2023-1", "2022-2023-2", "2023-2024-1", "2023-2024-2"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红"
GROUPS = ["小学语文组", "小学数学组", "英语组", "科学组", "初中数学组", "理化组", "生物地理组", "艺体组", "信息科技组", "道德与法治组"]


@dataclass(frozen=True)
class CorpusSpec:
    size: int
    seed: int = 20231012
    video_every: int = 0  # one folder submission in this many carries a video (0: none)
    docx_every: int = 0  # one in this many is a folder with a .docx holding its body
    pdf_every: int = 0  # one in this many is a folder with a PDF (from a small pool printed once)


def _sentence(rng: random.Random) -> str:
    text = rng.choice(FILLER)
    if rng.random() < 0.5:
        word = rng.choice(PLANTED)
        cut = rng.randrange(len(text))
        text = text[:cut] + word + text[cut:]
    return text


def body(rng: random.Random, sentences: int) -> str:
    return "".join(_sentence(rng) for _ in range(sentences))


def metadata(rng: random.Random, catalog: Catalog, number: int) -> dict[str, Any]:
    subjects = catalog.subjects[:-1]  # 班主任工作 is not a subject of lessons
    types = [t for t in catalog.types if t not in ("微课", "课堂实录")]
    term = TERMS[number % len(TERMS)]
    year = int(term[:4]) + (1 if term.endswith("-2") else 0)
    month = rng.randint(3, 6) if term.endswith("-2") else rng.randint(9, 12)
    topic = rng.choice(PLANTED)
    return {
        "title": f"{topic}{rng.choice(['教学设计', '教学反思', '案例', '学情分析', '微课'])}（{number}）",
        "type": rng.choice(types),
        "subject": rng.choice(subjects),
        "grade": rng.choice(catalog.grades),
        "competencies": rng.sample(list(catalog.points), rng.randint(1, 2)),
        "authors": [rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN) for _ in range(rng.randint(1, 2))],
        "group": rng.choice(GROUPS),
        "date": f"{year}-{month:02d}-{rng.randint(1, 28):02d}",
        "summary": _sentence(rng),
        "keywords": rng.sample(PLANTED, 2),
        "term": term,
        "exemplary": rng.random() < 0.08,
    }


def write_corpus(resources: Path, catalog: Catalog, spec: CorpusSpec) -> int:
    """Write `spec.size` submissions under `resources/`; returns how many were written."""
    from docx import Document  # only needed when documents are asked for

    rng = random.Random(spec.seed)
    pdfs = pdf_pool(resources.parent / ".corpus-pdfs", rng) if spec.pdf_every else []
    for number in range(spec.size):
        meta = metadata(rng, catalog, number)
        text = body(rng, rng.randint(8, 40))
        folder = resources / meta["term"]
        folder.mkdir(parents=True, exist_ok=True)
        if pdfs and number % spec.pdf_every == 1:
            target = folder / f"s{number:05d}"
            target.mkdir(exist_ok=True)
            (target / "meta.yml").write_text(yaml.safe_dump(meta, allow_unicode=True, sort_keys=False), encoding="utf-8")
            shutil.copyfile(pdfs[number % len(pdfs)], target / "学习单.pdf")
        elif spec.docx_every and number % spec.docx_every == 0:
            target = folder / f"s{number:05d}"
            target.mkdir(exist_ok=True)
            (target / "meta.yml").write_text(yaml.safe_dump(meta, allow_unicode=True, sort_keys=False), encoding="utf-8")
            document = Document()
            for start in range(0, len(text), 200):
                document.add_paragraph(text[start : start + 200])
            document.save(str(target / "文档.docx"))
            if spec.video_every and number % (spec.video_every * spec.docx_every) == 0:
                sample_video(target / "微课.mp4", number)
        else:
            header = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)
            (folder / f"s{number:05d}.md").write_text(f"---\n{header}---\n\n{text}\n", encoding="utf-8")
    return spec.size


def pdf_pool(folder: Path, rng: random.Random, count: int = 8) -> list[Path]:
    """A few PDFs of Chinese teaching prose printed by headless Chromium (none without it)."""
    import html
    import subprocess
    import tempfile

    browser = shutil.which("chromium")
    if browser is None:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    made: list[Path] = []
    for number in range(count):
        target = folder / f"pool-{number}.pdf"
        if not target.exists():
            with tempfile.TemporaryDirectory() as scratch:
                page = Path(scratch) / "page.html"
                page.write_text(f"<html lang='zh'><meta charset='utf-8'><body><h1>学习单 {number}</h1><p>{html.escape(body(rng, 30))}</p></body></html>", encoding="utf-8")
                subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                "--disable-component-update", "--no-first-run", f"--user-data-dir={scratch}/profile",
                                f"--print-to-pdf={target}", "--no-pdf-header-footer", page.as_uri()],
                               check=True, capture_output=True, timeout=120)
        made.append(target)
    return made


def sample_video(path: Path, seed: int = 0) -> None:
    """A two-second H.264 clip, different for each seed; requires ffmpeg."""
    import subprocess

    colour = f"0x{(seed * 2654435761) & 0xFFFFFF:06x}"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"color=c={colour}:size=160x90:rate=10", "-t", "2",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(path)],
        check=True,
    )
