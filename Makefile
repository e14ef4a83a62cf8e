# 学校教学成果资源平台。常用命令：make serve（搭建并在校园网内提供网站）、make test（运行全部测试）。
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUN := PYTHONPATH=scripts $(PY) -m portal
PORT ?= 8000
HOST ?= 0.0.0.0

BENCH_SIZES ?= 1000,10000
# 县级平台的公开案例数（逗号分隔，0 表示不测）；100,000 份冷启动约需 10 分钟：make bench BENCH_COUNTY=25000,100000
BENCH_COUNTY ?= 25000
# 新学校首次构建的 Office 文档数（测量预览用时，0 表示不测）
BENCH_PREVIEWS ?= 200
# 页面生成器：mkdocs（默认）、properdocs 或 zensical；不写时按 mkdocs.yml 的 extra.portal.builder
BUILDER ?=
BUILT := PORTAL_BUILDER=$(BUILDER) $(RUN)
BENCH_REPEATS ?= 3

.PHONY: serve test bench site check showcase showcase-zip county-export briefing-pdf wechat register-template setup setup-test clean builder setup-mkdocs setup-properdocs setup-zensical

## 在全新机器上搭建环境、生成网站，并在校园网内提供服务（支持视频拖动进度）；成果有变化时自动更新网站
serve: setup builder
	@# Stopped by Ctrl+C (130) or SIGTERM (143) is how a server ends: no English error line from make.
	@$(BUILT) serve --host $(HOST) --port $(PORT); code=$$?; [ $$code -eq 0 -o $$code -eq 130 -o $$code -eq 143 ] || exit $$code

## 生成校内网站到 site/
site: setup builder
	$(BUILT) site

## 生成对外公开的优秀案例展示到 showcase/（只含优秀案例且教师同意公开的成果）
showcase: setup builder
	$(BUILT) showcase

## 生成优秀案例展示并打包为 showcase.zip
showcase-zip: setup builder
	$(BUILT) showcase-zip

## 生成给县里的导出文件 county-export.zip：公开的优秀案例展示和本校各学期统计（只有数字，不含名单和评审意见）
county-export: setup builder
	$(BUILT) county-export

## 只检查成果；有成果未通过时返回非零
check: setup
	$(RUN) check

## 把研修简报打印成 A4 PDF（reports/briefings/），使用 chromium
briefing-pdf: site
	bash scripts/setup-system.sh print
	$(RUN) briefing-pdf

## 把研修简报转成可粘贴到公众号编辑器的页面（reports/wechat/，复制助手 reports/公众号复制.html），使用 chromium
wechat: site
	bash scripts/setup-system.sh print
	$(RUN) wechat

## 生成空白成果登记表（Excel，带下拉选项）到 reports/
register-template: setup
	$(RUN) register-template

## 搭建测试环境并运行全部测试（浏览器测试使用 Debian 的 chromium）
test: setup-test setup-properdocs setup-zensical
	$(PY) -m pytest

## 性能测试：一所学校 1,000 与 10,000 份模拟成果（与原版 Material 对照）、由各校导出生成的县级平台 25,000 份、新学校 200 份 Office 文档的预览和视频转码；测量构建、内存、页面大小和浏览器中的搜索
bench: setup-test
	PYTHONPATH=scripts $(PY) -m portal_tools.bench --sizes $(BENCH_SIZES) --repeats $(BENCH_REPEATS) --county $(BENCH_COUNTY) --previews $(BENCH_PREVIEWS)

setup: $(VENV)/.runtime-installed $(VENV)/.bytecode-compiled

$(VENV)/.runtime-installed: requirements.txt
	bash scripts/setup-system.sh runtime
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# The portal's own modules compiled once after each change (pip does this for the packages it
# installs): where Python may not write them itself (PYTHONDONTWRITEBYTECODE, a read-only
# checkout) every build would otherwise compile them again, 0.2 s of a rebuild at 10,000.
# Not fatal: a checkout Python cannot write to still builds, only slower.
$(VENV)/.bytecode-compiled: $(VENV)/.runtime-installed $(wildcard scripts/*/*.py scripts/*/*/*.py)
	-@$(PY) -m compileall -q -f --invalidation-mode timestamp scripts >/dev/null || echo "[提醒] 无法在 scripts/ 中保存编译结果（没有写权限？），网站照常生成，只是每次稍慢"
	@touch $@ 2>/dev/null || true

setup-test: setup $(VENV)/.test-installed tests/node_modules/.installed
	bash scripts/setup-system.sh test

# axe-core (accessibility checks in the browser tests), pinned in tests/package-lock.json.
tests/node_modules/.installed: tests/package.json tests/package-lock.json
	@command -v npm >/dev/null || { echo "缺少 npm（浏览器测试要用它安装 axe-core）。请用管理员账户运行：apt-get install npm" >&2; exit 1; }
	cd tests && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(VENV)/.test-installed: requirements-test.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $@

# 所选页面生成器装在自己的虚拟环境里（.venv-properdocs、.venv-zensical），与 .venv 分开
builder: setup
	@$(MAKE) --no-print-directory setup-$$(PORTAL_BUILDER=$(BUILDER) PYTHONPATH=scripts $(PY) -m portal.builders --which mkdocs.yml)

setup-mkdocs: setup

setup-properdocs: .venv-properdocs/.installed

setup-zensical: .venv-zensical/.installed

# --no-deps: the files pin every package; Material would otherwise pull MkDocs in beside ProperDocs
.venv-%/.installed: requirements-%.txt
	rm -rf .venv-$*
	$(PYTHON) -m venv .venv-$*
	.venv-$*/bin/pip install --quiet --disable-pip-version-check --no-deps -r $<
	touch $@

clean:
	rm -rf .build site site.old showcase showcase.old showcase.zip county-export.zip reports
