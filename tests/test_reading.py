"""The reading stage's parts on fixed sentences: question analysis, typed spans, English
renderings, constraint checks and the claim check of LLM mode. Real LAC tagger, no index."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag import english, question, tagger
from rag.evidence import Scored, Sentence
from rag.question import analyse, split_parts
from rag.reading import (
    ReadingParams,
    claim_supported,
    quantities,
    read,
    satisfies,
    untyped_order,
)
from rag.spans import typed_spans


@pytest.mark.parametrize(
    ("question", "type_"),
    [
        ("湖州首次颁发的生态鼎中，哪个县捧获了生态文明冠军鼎？", "place"),
        ("2023年浙江全省工业增加值是多少？", "number"),
        ("绍兴在制造业50强城市中排第几？", "rank"),
        ("热电厂原计划什么时候停止供热？", "date"),
        ("舜云互联的电机产业大脑让生产效率提高了多少？", "percent"),
        ("规上工业增加值为GDP增长贡献了多大比率?", "percent"),
        ("全省森林覆盖率是多少?", "percent"),
        ("嘉兴城乡居民收入比是多少?", "number"),  # a ratio, 1.53:1
        ("嘉兴古奥基因科技有限公司的董事长是谁？", "person"),
        ("给金西区块企业集中供汽的是哪家热电公司？", "org"),
        ("湖州颁发的最高奖项叫什么？", "title"),
        ("为什么要建暖心坊？", "reason"),
        ("Which county won the Ecological Civilization Champion Tripod in Huzhou?", "place"),
        (
            "How many manufacturing companies from Zhejiang entered the Fortune Global 500?",
            "number",
        ),
        ("What was the output value of the photovoltaic industry?", "number"),
        ("In which year did Yunhe start its bid?", "date"),
        ("Who is the chairman of the company?", "person"),
        ("Why did the festival move?", "reason"),
        ("Where did South Korea finish at the Qatar World Cup?", "rank"),
        ("Where was the award ceremony held?", "place"),
    ],
)
def test_expected_answer_type(question: str, type_: str) -> None:
    assert analyse(question).type == type_


def test_constraints_of_a_question() -> None:
    q = analyse("2022年嘉兴市的董事长是谁？")
    assert q.years == ("2022",) and q.roles == ("董事长",) and "嘉兴市" in q.places
    assert analyse("Who was the mayor of Huzhou in 2021?").years == ("2021",)
    assert analyse("Who was the mayor of Huzhou in 2021?").roles == ("市长",)
    assert analyse("哪个村开了网店？").unit == "村"
    assert analyse("在全国排第几？").scope == "全国"
    assert analyse("今日浙江2024年第10期是总第几期？").meta == "issue"


def test_two_part_questions_are_split() -> None:
    parts = split_parts("绍兴累计培育了多少个平台?去年平台经营总额是多少?")
    assert len(parts) == 2
    q = analyse("绍兴累计培育了多少个平台?去年平台经营总额是多少?")
    assert [p.type for p in q.parts] == ["number", "number"]
    assert split_parts("湖州哪个县获得了冠军鼎？") == ["湖州哪个县获得了冠军鼎？"]
    # English: a second question word after 'and' starts the second part.
    english = analyse("When was the college inaugurated, and how many mentors were appointed?")
    assert [p.type for p in english.parts] == ["date", "number"]
    assert split_parts("Which county won and why?") == ["Which county won and why?"]
    # A part that names no year is of the year the question names.
    years = analyse("到2022年底,浙江一共有多少技能人才?其中高技能人才占多少比例?")
    assert [p.years for p in years.parts] == [("2022",), ("2022",)]
    assert [p.years for p in analyse("2022年有多少家?2023年呢有多少家?").parts] == [
        ("2022",),
        ("2023",),
    ]


def spans_of(text: str, type_: str) -> list[str]:
    return [s.text for s in typed_spans(text, tagger.tag(text), type_)]  # type: ignore[arg-type]


def test_typed_spans_are_verbatim_and_typed() -> None:
    s = "2023年,全省工业增加值达到2.94万亿元,居全国第三,占GDP比重达35.6%。"
    assert "2.94万亿元" in spans_of(s, "number")
    assert "2023年" not in spans_of(s, "number")  # a year is a date, not an amount
    assert spans_of(s, "percent") == ["35.6%"]
    assert any("第三" in r for r in spans_of(s, "rank"))
    assert spans_of(s, "date") == ["2023年"]
    assert spans_of("其中,长兴县捧获“生态文明冠军鼎”。", "place") == ["长兴县"]
    assert spans_of("其中,长兴县捧获“生态文明冠军鼎”。", "title") == ["生态文明冠军鼎"]
    text = "本报湖州9月4日电(记者 叶诗蕾)4日,龙港市副市长胡月珍介绍经验。"
    people = typed_spans(text, tagger.tag(text), "person")
    assert {p.text: p.byline for p in people} == {"叶诗蕾": True, "胡月珍": False}


@pytest.mark.parametrize(
    ("span", "type_", "english_text"),
    [
        ("2.94万亿元", "number", "2.94 trillion yuan"),
        ("200立方米/秒", "number", "200 m³ per second"),  # a rate: its unit with its 'per'
        ("3000元/吨", "number", "3,000 yuan per tonne"),
        ("4月15日至10月15日", "date", "April 15 to October 15"),  # a range of dates
        ("36.1万人", "number", "361,000 people"),
        ("311亿元", "number", "31.1 billion yuan"),
        ("第15位", "rank", "15th"),
        ("全省第一", "rank", "1st in the province"),
        ("长兴县", "place", "Changxing County"),
        ("卡塔尔", "place", "Qatar"),  # a foreign place: its English name, not pinyin
        ("磐安县", "place", "Pan'an County"),  # pinyin's apostrophe between syllables
        ("欧阳娜娜", "person", "Ouyang Nana"),
        ("2024年5月27日", "date", "May 27, 2024"),
        ("百分之十二", "percent", "12%"),
        ("叶诗蕾", "person", "Ye Shilei"),
        ("3个月至12个月", "number", "3 to 12 months"),  # a range is one answer
        ("326亿千瓦时", "number", "32.6 billion kWh"),
        ("雍平社区", "place", "Yongping Community"),  # 社区, not a 区 (district)
        ("今年2月6日", "date", "February 6 this year"),
        ("宁波市", "place", "Ningbo"),  # a city as English names it, no 'City'
    ],
)
def test_english_renderings(span: str, type_: str, english_text: str) -> None:
    assert english.render(span, type_) == english_text


def test_an_english_rank_leaves_out_the_scope_the_question_states() -> None:
    assert english.without_scope("3rd nationwide", "How does Zhejiang rank nationally?") == "3rd"
    assert english.without_scope("4th in the province", "its rank in Zhejiang?") == "4th"
    # Not stated: the scope is part of the answer.
    assert english.without_scope("3rd nationwide", "What rank did it take?") == "3rd nationwide"


def sentence(text: str, context: str = "") -> Sentence:
    return Sentence("a.txt", "标题", 0, len(text), text, "a.txt:0-9", 0, tags=tagger.tag(text),
                    context=context or text)  # fmt: skip


def test_year_place_and_role_constraints() -> None:
    s = sentence("2023年,湖州市工业增加值达到1200亿元。")
    assert satisfies(analyse("2023年湖州的工业增加值是多少？"), s)
    assert not satisfies(analyse("2021年湖州的工业增加值是多少？"), s)
    assert not satisfies(analyse("2023年嘉兴的工业增加值是多少？"), s)
    person = sentence("松德刀具董事长何振虎说。")
    assert satisfies(analyse("松德刀具的董事长是谁？"), person)
    assert not satisfies(analyse("松德刀具的总经理是谁？"), person)
    # A place spelt in Latin letters matches whatever its case or width.
    cbd = sentence("南湖CBD分别斩获其他类的第二名。")
    assert satisfies(analyse("在嘉兴服务业集聚区评估里,南湖ＣＢＤ拿了第几名?"), cbd)
    assert not satisfies(analyse("在嘉兴服务业集聚区评估里,南湖ABC拿了第几名?"), cbd)
    # A relative year ('去年') in an article of unknown date is no contradiction.
    assert satisfies(analyse("2023年湖州的工业增加值是多少？"), sentence("去年湖州增长8%。"))


def scored(*texts: str) -> list[Scored]:
    """Sentences of one passage, best-scored first."""
    passage = "".join(texts)
    return [Scored(sentence(t, passage), 1.0 - i / 100, 0.9, 0.5) for i, t in enumerate(texts)]


def test_reading_picks_the_sentence_that_answers_not_the_most_similar() -> None:
    pool = scored(
        "本报湖州9月4日电(记者 叶诗蕾)4日,湖州召开大会,首次颁发“生态鼎”。",
        "其中,长兴县捧获“生态文明冠军鼎”。",
    )
    result = read(analyse("湖州首次颁发的生态鼎中，哪个县捧获了生态文明冠军鼎？"), pool,
                  ReadingParams(), lambda _: True)  # fmt: skip
    assert result.answered
    assert result.picks[0].short == "长兴县"
    assert "长兴县捧获" in result.picks[0].sentence.text


def test_reading_refuses_when_no_sentence_states_the_asked_detail() -> None:
    pool = scored("湖州召开大会,首次颁发“生态鼎”。", "长兴县捧获“生态文明冠军鼎”。")
    # Who presided is never said: no person of the story is named.
    who = read(analyse("湖州颁发生态鼎的大会由谁主持？"), pool, ReadingParams(), lambda _: True)
    assert not who.answered
    # The year asked for is not the year stated.
    pool = scored("2023年,全省工业增加值达到2.94万亿元。")
    when = read(analyse("2021年全省工业增加值是多少？"), pool, ReadingParams(), lambda _: True)
    assert not when.answered


def test_claims_must_state_what_their_quote_states() -> None:
    quote = "2023年,全省工业增加值达到2.94万亿元,入境外商36.1万人。"
    assert claim_supported("Industrial added value was 2.94 trillion yuan in 2023.", quote)
    assert claim_supported("There were 361,000 foreign visitors.", quote)
    assert not claim_supported("There were 3.6 million foreign visitors.", quote)
    assert not claim_supported("2022年全省工业增加值达到2.94万亿元。", quote)
    assert not claim_supported("嘉兴工业增加值达到2.94万亿元。", quote)
    assert 2.94e12 in quantities(quote) and 361000 in quantities(quote)


# -- what a figure measures (rag.attribute) ------------------------------------------------


def answer(question: str, *texts: str) -> str | None:
    """The short answer read from `texts` (one passage, best first), None if refused."""
    result = read(analyse(question), scored(*texts), ReadingParams(), lambda _: True)
    return result.picks[0].short if result.answered else None


def test_attribute_asked_is_the_noun_before_the_question_word() -> None:
    assert analyse("桐昆集团项目建成后预计年产值是多少？").attribute == ("年产值",)
    assert analyse("长兴县2023年的产值比上年增长了多少？").attribute == ("产值",)  # what changes
    assert analyse("钱塘区的创新指数在全省排在第几位？").attribute == ("创新指数",)
    assert analyse("新昌县目前共有多少家上市企业？").attribute == ("上市企业",)  # what is counted
    # Asked through a verb: verbs are what questions reword most (投放 / 投用), so only
    # what is counted is the attribute.
    assert analyse("嘉兴南湖区试点投放了几辆车？").attribute == ("车",)
    assert analyse("嘉兴南湖区试点投放了多少？").attribute == ()
    # English questions name none: dictionary translations miss too many paraphrases.
    assert analyse("What was the output value of the photovoltaic industry?").attribute == ()


def test_a_figure_of_another_attribute_does_not_answer() -> None:
    project = "嘉兴港区总投资50亿元的桐昆集团石化项目顺利开工。"
    assert answer("桐昆集团石化项目建成后预计年产值是多少？", project) is None
    assert answer("桐昆集团石化项目的总投资是多少？", project) == "50亿元"
    # Reworded attribute: 总投入 for 总投资 (a shared character that not every measure has).
    assert answer("桐昆集团石化项目的总投入是多少？", project) == "50亿元"
    orders = "2023年长兴县订单量同比增长14%。"
    assert answer("长兴县2023年的产值比上年增长了多少？", orders) is None
    assert answer("长兴县2023年的订单数比上年增长了多少？", orders) == "14%"


def test_a_rank_of_another_attribute_does_not_answer() -> None:
    rank = "钱塘区数字化发展水平连续两年位列全省第五。"
    assert answer("钱塘区的创新指数在全省排第几？", rank) is None
    assert answer("钱塘区的数字化水平在全省排第几？", rank) == "全省第五"


def test_the_attribute_may_be_named_by_the_neighbouring_sentence() -> None:
    # The article names the attribute once and lists the figures after it.
    texts = ("今年,全市年产值再创新高。", "其中,规上企业达80亿元。")
    passage = "".join(texts)
    pool, at = [], 0
    for i, t in enumerate(texts):
        s = Sentence("a.txt", "标题", at, at + len(t), t, "a.txt:0-9", 0, tags=tagger.tag(t),
                     context=passage)  # fmt: skip
        pool.append(Scored(s, 1.0 - i / 100, 0.9, 0.5))
        at += len(t)
    result = read(analyse("今年全市年产值是多少？"), pool, ReadingParams(), lambda _: True)
    assert result.answered and result.picks[0].short == "80亿元"
    alone = read(analyse("今年全市年产值是多少？"), pool[1:], ReadingParams(), lambda _: True)
    assert not alone.answered  # without it, 规上企业 names another attribute


def test_a_deputy_is_not_the_role_asked_for() -> None:
    deputy = "该公司副总经理左涛介绍,企业已累计取得知识产权80项。"
    firm = "爱德曼氢能装备公司落户嘉兴。"  # the passage names the firm the question names
    assert answer("爱德曼氢能装备公司的总经理是谁？", deputy, firm) is None
    assert answer("爱德曼氢能装备公司的副总经理是谁？", deputy, firm) == "左涛"
    assert answer("Who is the general manager of the company?", deputy) is None


def test_a_running_total_is_not_the_figure_of_one_year() -> None:
    total = "目前,舟山累计油气贸易额超3万亿元。"
    assert answer("舟山2023年一年的油气贸易额是多少？", total) is None
    assert answer("舟山累计的油气贸易额是多少？", total) == "超3万亿元"
    assert (
        answer("舟山2023年的油气贸易额是多少？", "2023年,舟山累计油气贸易额超3万亿元。")
        == "超3万亿元"
    )


def test_a_count_measures_the_noun_it_counts() -> None:
    s = "西湖区在高校旁布局66个孵化空间,助力819个高科技项目就地孵化。"
    assert answer("西湖区的技术交易额是多少？", s) is None
    assert answer("西湖区布局了多少个孵化空间？", s) == "66个"
    # 上市企业 and 重点企业 share only their head: other companies.
    firms = "目前,新昌县已有50多家重点企业和三分之一左右上市企业完成交接传承。"
    assert answer("新昌县目前共有多少家A股上市企业？", firms) is None
    assert answer("新昌县目前有多少家重点企业完成交接？", firms) == "50多家"
    # '一件事' is a set phrase, not one notarisation, though its clause names 涉外公证.
    one = "游艇公司对公证处的涉外公证与领事认证“一件事”联办机制点赞。"
    assert answer("公证处去年一共办理了多少件涉外公证？", one) is None
    assert (
        answer("公证处去年一共办理了多少件涉外公证？", "去年公证处办理涉外公证230件。") == "230件"
    )


def test_a_figure_of_a_list_belongs_to_its_own_item() -> None:
    q = "截至今年3月,浙江累计建成了多少家未来工厂？"
    assert analyse(q).attribute == ("未来工厂",)  # 未来/TIME modifies what is counted
    farms = "截至今年3月,全省累计认定数字农业基地417家、未来农场33家。"
    factories = "截至今年3月,全省累计创建未来工厂72家、智能工厂794家、服务商452家。"
    assert answer(q, farms) is None  # 未来农场 shares a modifier, not what is counted
    # The item that names the attribute whole wins over a better-scored similar one.
    assert answer(q, farms, factories) == "72家"
    assert answer(q, factories) == "72家"


def test_a_figure_bound_by_name_answers_below_the_floor_and_from_a_question() -> None:
    q = analyse("龙港市的常住人口有多少？")
    rhetorical = "如何以40%的行政资源,承接100%的行政管理职能,服务好48.5万名常住人口?"
    pool = [Scored(sentence(rhetorical, "龙港撤镇设市近4年。" + rhetorical), 1.0, 0.9, 0.5)]
    result = read(q, pool, ReadingParams(), lambda _: True)
    assert result.answered and result.picks[0].short == "48.5万名"
    # A question sentence whose figure counts something else states no answer.
    other = "如何以40%的行政资源服务好48.5万名群众?"
    pool = [Scored(sentence(other, "龙港撤镇设市近4年。" + other), 1.0, 0.9, 0.5)]
    assert not read(q, pool, ReadingParams(), lambda _: True).answered
    # Below the typed floor, only a figure bound to the attribute by name answers.
    params = ReadingParams()
    low = params.floor("zh") - params.bound_relief / 2
    rank = "钱塘区创新指数连续两年位列全省第五。"
    unbound = "钱塘区连续两年居全省第四。"  # names no attribute: answers when it scores well
    ask = analyse("钱塘区的创新指数在全省排第几？")
    assert read(ask, [Scored(sentence(rank, rank), low, 0.9, 0.5)], params, lambda _: True).answered
    assert not read(ask, [Scored(sentence(unbound, unbound), low, 0.9, 0.5)], params,
                    lambda _: True).answered  # fmt: skip
    assert read(ask, [Scored(sentence(unbound, unbound), 1.0, 0.9, 0.5)], params,
                lambda _: True).answered  # fmt: skip


def test_set_phrases_of_one_are_no_amounts() -> None:
    assert spans_of("配套建立《工作指南》等一系列标准,掀起一场革新,实施209项标准。", "number") == [
        "209项"
    ]


def test_a_clause_naming_no_attribute_takes_the_one_before() -> None:
    s = "2023年,全省工业增加值达到2.94万亿元,居全国第三。"
    assert answer("2023年浙江的地区生产总值在全国排第几？", s) is None
    assert answer("2023年浙江的工业增加值在全国排第几？", s) == "全国第三"
    both = "新增国家绿色工厂165家、绿色供应链企业53家,均居全国第一。"
    assert answer("浙江新增国家绿色工厂数量在全国排第几？", both) == "全国第一"


def test_a_rate_is_a_percentage_and_an_ordinal_no_amount() -> None:
    q = analyse("正泰电气企业光伏电的自用率达到多少？")
    assert q.type == "percent"
    s = "正泰电气通过低碳平台,企业光伏电自用率达79%,万元产值能耗0.004吨。"
    assert answer("正泰电气企业光伏电的自用率达到多少？", s) == "79%"
    assert spans_of("(紧接第一版)比如去年9月,已筛选项目40余项。", "number") == ["40余项"]


def test_a_district_named_with_its_city_needs_only_the_district() -> None:
    s = "2023年,西湖区实现技术交易额376亿元,居全省第二。"
    assert answer("2023年杭州西湖区的技术交易额有多少？", s) == "376亿元"
    assert answer("2023年宁波的技术交易额有多少？", s) is None


def test_a_two_part_question_answers_the_part_the_articles_state() -> None:
    pool = scored("截至目前,全区已建成39个现代产业学院。", "全区人口持续增长。")
    result = read(analyse("钱塘区的人才总量是多少？全区建成了多少个现代产业学院？"), pool,
                  ReadingParams(), lambda _: True)  # fmt: skip
    assert result.answered and [p.short for p in result.picks] == ["39个"]


def test_an_amount_of_money_is_asked_in_yuan() -> None:
    q = analyse("舟山绿色石化基地三期项目的总投资是多少？")
    assert q.unit == "元"
    phases = "舟山绿色石化基地目前一、二期已投产,并全力拼三期。"
    assert answer("舟山绿色石化基地三期项目的总投资是多少？", phases) is None
    assert (
        answer(
            "舟山绿色石化基地三期项目的总投资是多少？", "舟山绿色石化基地三期项目总投资达1200亿元。"
        )
        == "1200亿元"
    )
    # 多少钱 names the unit, not what is counted: '同意投资40万元' answers it.
    assert analyse("强村公司同意给周恩君投资多少钱？").attribute == ()
    assert (
        answer(
            "强村公司同意给周恩君投资多少钱？", "经过协商,强村公司同意投资40万元。", "周恩君创业。"
        )
        == "40万元"
    )


def test_english_answer_types() -> None:
    rank = analyse("What was Xihu District's national rank for technology transaction volume?")
    assert rank.type == "rank" and rank.scope == "全国"
    assert analyse("What is the interest rate of the startup loans in Lishui?").type == "percent"
    assert analyse("What is the average nightly room price of homestays?").type == "number"
    assert analyse("How fast did industrial output grow in Jiashan?").type == "percent"
    # A person asked for by the noun heading the 'which' phrase, after its modifiers.
    assert analyse("Which Longgang vice mayor spoke at the sub-forum?").type == "person"
    assert analyse("Which senior HR manager of the firm is quoted?").type == "person"
    assert analyse("Which national model worker has operated bridge cranes?").type == "person"
    assert analyse("Which company did the mayor visit?").type == "org"
    # A quoted name's words ask nothing ('when' of a slogan).
    slogan = "Which official explained the 'start a business when you want' stations?"
    assert analyse(slogan).type == "person"
    assert analyse("What worker training programme did Shaoxing launch?").type != "person"
    # A loan of low interest states no rate: no percentage, no answer.
    loans = "政府部门为创业者设置低利率创业贷扶持产品,已发放贷款3亿元。"
    assert answer("What is the interest rate of the startup loans in Lishui?", loans) is None
    assert (
        answer("What is the interest rate of the startup loans?", "创业贷年利率为3.5%。") == "3.5%"
    )


def test_english_units_constrain_the_figure() -> None:
    assert analyse("How far can the delivery vehicles travel on a single charge?").unit == (
        "公里|千米|米"
    )
    assert analyse("How much electricity did Sanmen County generate in 2023?").unit == (
        "千瓦时|度|瓦"
    )
    assert analyse("For how long does Lishui offer free spaces?").unit.startswith("年|月|天")  # type: ignore[union-attr]
    charge = "当天下午,5辆无人配送车在南湖区试点投用。"
    distance = "据了解,车辆充一次电可以跑200公里,时速约十几公里。"
    q = "How far can the delivery vehicles travel on a single charge?"
    assert answer(q, charge) is None  # 5 vehicles is no distance
    assert answer(q, charge, distance) == "200 km"
    spans = spans_of("政府部门免费提供3个月至12个月的“零创空间”,2020至2023年新增5家。", "number")
    assert spans == ["3个月至12个月", "5家"]  # a range of years is no amount
    assert spans_of("三门县先后谋划7个能源重点项目。", "number") == ["7个"]  # 三门: a place


def test_an_english_question_prefers_the_figure_whose_clause_states_its_keywords() -> None:
    from dataclasses import replace

    # ask() gives an English question the Chinese keywords of rag.translate.
    q = replace(analyse("What was the output value of industries in Changxing in 2023?"),
                keywords=("长兴", "产值", "产业"))  # fmt: skip
    s = "2023年,长兴县新增项目投资471亿元,规上工业产值突破2000亿元。"
    result = read(q, scored(s), ReadingParams(), lambda _: True)
    assert result.answered and result.picks[0].span.text == "2000亿元"  # type: ignore[union-attr]
    # Without keywords the nearer-the-start figure is as good as any.
    bare = replace(q, keywords=())
    first = read(bare, scored(s), ReadingParams(), lambda _: True)
    assert first.picks[0].span.text == "471亿元"  # type: ignore[union-attr]


def test_an_english_figure_bound_to_a_named_place_and_a_keyword_answers_below_the_floor() -> None:
    from dataclasses import replace

    params = ReadingParams()
    low = params.floor("en") - params.bound_relief / 2
    s = "据悉，2023年，金华市新增外资经营主体1477家；"
    q = replace(analyse("How many new foreign-invested entities did Jinhua add in 2023?"),
                keywords=("金华", "新增"), places=("金华",))  # fmt: skip
    assert q.unit != "元"  # 'how many … foreign-invested' counts entities
    pool = [Scored(sentence(s, s), low, 0.7, 0.3)]
    result = read(q, pool, params, lambda _: True)
    assert result.answered and result.picks[0].short == "1,477"
    # No keyword of the question in the clause: below the floor it is refused.
    unrelated = replace(q, keywords=("金华", "外商"))
    assert not read(unrelated, pool, params, lambda _: True).answered


def test_a_firm_is_answered_by_its_short_name() -> None:
    # 哪家企业 is answered by 华友钴业: a firm's name need not contain 企业 or 公司.
    s = "衢州智造新城引进了华友钴业等龙头企业,形成新能源产业链。"
    assert answer("衢州智造新城引进了哪家龙头企业？", s) == "华友钴业"
    bank = "宁波银行为企业提供贷款。"
    assert answer("哪家大学为企业提供贷款？", bank) is None  # a bank is no university


def test_untyped_questions_prefer_the_sentence_that_explains() -> None:
    restates = "原来,在新街社区党群服务中心,有一间名叫“暖心坊”的工坊。"
    reason = "“暖心坊”建立的初衷是为了盘活社区闲置资源,破解富余劳动力就业难问题。"
    pool = scored(restates, reason)
    why = untyped_order(analyse("新街社区当初为什么要建“暖心坊”？"), pool, ReadingParams())
    assert why[0].sentence.text == reason
    # Out of the window of the best score, a cue does not lift a sentence.
    far = [pool[0], Scored(pool[1].sentence, pool[0].score - 0.5, 0.5, 0.1)]
    assert (
        untyped_order(analyse("新街社区当初为什么要建“暖心坊”？"), far, ReadingParams())[0]
        == far[0]
    )
    # A typed question keeps the evidence order.
    assert untyped_order(analyse("暖心坊是哪一年建的？"), pool, ReadingParams()) == pool
    # 是一个什么样的平台: the sentence saying what it is, not the one naming it again.
    again = "丽水创新建设了“想创就创”共富驿站,“让创业有地方问,有资源找。”"
    says = "“想创就创”共富驿站是包含政策咨询、导师点睛、金融帮扶的全生命周期助创平台。"
    q = analyse("丽水的“想创就创”共富驿站是一个什么样的平台？")
    assert q.type == "description"
    assert untyped_order(q, scored(again, says), ReadingParams())[0].sentence.text == says
    # The term the question quotes: “1+4+N” is defined where it is stated.
    other = "浙江全域打造“15分钟公共法律服务圈”。"
    term = "全省已经形成了“1+4+N”的服务网络(1个线上平台、4级线下站点、N个服务场所)。"
    order = untyped_order(analyse("“1+4+N”分别指什么？"), scored(other, term), ReadingParams())
    assert order[0].sentence.text == term


def test_a_title_question_wants_a_name_of_the_kind_it_asks_for() -> None:
    assert analyse("西湖区连续获得了哪项省级荣誉？").type == "title"  # 省级 between
    assert analyse("民生问题靠平台上的哪个功能流转办理？").type == "title"
    assert analyse("“义境”App是个什么样的平台？").type == "description"  # 什么样: describe
    ship = "在杭州拱宸桥边的最美游船“拱宸邀月”化身“宁波”号,展示着宁波民宿的“美颜”。"
    other = "随后,“民宿团”又走进余杭葛巷社区,开展产品推介。"
    assert answer("宁波民宿到杭州做推介,选在了哪条船上？", other, ship) == "拱宸邀月"
    # A name in single quotes inside a quotation is a name of its own.
    rules = "“针对八个方面的重点事项,制定了基层重点事项治理‘微八条’……”"
    assert spans_of(rules, "title") == ["微八条"]


def test_names_the_tagger_misses_are_found_where_the_question_puts_them() -> None:
    # LAC tags 嵊泗县 of 嵊泗县公共法律服务中心 as an organisation: still a county.
    office = "船员陈某在嵊泗县公共法律服务中心获得了法律援助、调解等公共法律服务。"
    assert answer("船员陈某在哪个县获得了法律援助和调解服务？", office) == "嵊泗县"
    # LAC tags no person in 一线焊工卫松; the name stands right after the description asked.
    welder = "全省首个破格获得正高级工程师职称的一线焊工卫松,积极助力山区26县发展。"
    assert answer("哪位一线焊工在全省率先被破格评为正高级工程师？", welder) == "卫松"
    assert answer("哪位农民工在全省率先被破格评为正高级工程师？", welder) is None
    # An English role is any of its Chinese titles, and the name right after it counts.
    assert {"主任", "总监"} <= set(analyse("Who is the director of public affairs?").roles)
    director = "新石器无人车公共事务部总监杜丹丹说,全车装有12个摄像头。"
    assert answer("Who is the director of public affairs at Neolix?", director) == "Du Dandan"
    assert answer("Who is the chairman of Neolix?", director) is None
    # '嘉善乡镇街道' is 嘉善's townships: the article naming 嘉善 satisfies it.
    q = analyse("农行支行连续多少年派人到嘉善乡镇街道挂职？")
    s = sentence(
        "连续9年下派27人次,分赴全县重点乡镇街道挂职。", "农行嘉善县支行连续9年下派27人次。"
    )
    assert satisfies(q, s)


def test_the_place_a_place_question_asks_within_is_no_constraint() -> None:
    q = analyse("绍兴哪个区打造的印染产业大脑已接入1800多家企业？")
    assert "绍兴" not in q.places
    s = "在柯桥区,织造印染产业大脑累计接入企业1800多家。"
    assert answer("绍兴哪个区打造的印染产业大脑已接入1800多家企业？", s) == "柯桥区"
    # Still a constraint when it is not what holds the answer.
    s2 = "在柯桥区,织造印染产业大脑接入企业1800多家。"
    assert answer("绍兴的印染产业大脑设在哪个区？", s2) is None
    assert analyse("宁波健信超导的厂区位于哪个县级市？").unit == "市"


def test_english_place_names_are_found_inside_longer_capitalised_runs() -> None:
    from rag import translate

    vocabulary = {"德清", "舟山", "湖州", "竺士杰", "中学"}
    q = "How many students attend Deqing No. 4 Middle School?"
    assert translate.names_in(q, vocabulary) == ["德清"]
    assert translate.places_in("Tonnes of fuel supplied at Zhoushan Port in 2023?", vocabulary) == [
        "舟山"
    ]
    assert translate.places_in("Which county won the Tripod in Huzhou City?", vocabulary) == [
        "湖州"
    ]
    # A person's name is a name, not a place: it does not constrain where the answer is.
    assert translate.names_in("What did Zhu Shijie say?", vocabulary) == ["竺士杰"]
    assert translate.places_in("What did Zhu Shijie say?", vocabulary) == []


def test_a_question_asking_which_reporter_wrote_it_asks_for_the_byline() -> None:
    assert analyse("宁波民宿到杭州运河游船上做推介的那条消息是哪位记者写的?").meta == "byline"
    assert analyse("哪位记者采写了这篇报道？").meta == "byline"
    assert analyse("哪个县捧获了冠军鼎？").meta is None


def test_a_byline_answer_names_the_writers_of_the_role_asked() -> None:
    from rag.reading import _credited

    line = "见习记者 高心同 记者 于山 通讯员 丁少华"
    assert _credited(analyse("那条消息署名的见习记者是谁?"), line) == "高心同"
    assert _credited(analyse("那条消息的通讯员是谁?"), line) == "丁少华"
    assert _credited(analyse("Which correspondent contributed to the report?"), line) == "丁少华"
    # No role asked: every writer, without role words, network labels or job titles.
    assert _credited(analyse("这篇报道是谁写的?"), line) == "高心同 于山 丁少华"
    alliance = "记者 叶诗蕾 共享联盟·湖州 陆晓芬"
    assert _credited(analyse("这篇报道的本报记者是谁?"), alliance) == "叶诗蕾"
    assert _credited(analyse("Who wrote the report?"), alliance) == "叶诗蕾 陆晓芬"
    assert _credited(analyse("作者是谁?"), "张霞 云和县崇头镇党委副书记、镇长") == "张霞"
    # A role no writer has: all of them rather than none.
    assert _credited(analyse("那篇报道的通讯员是谁?"), "本刊记者 马跃明 袁卫") == "马跃明 袁卫"


def test_respectively_pairs_each_subject_with_its_figure() -> None:
    text = (
        "在2021年度嘉兴市服务业集聚区评估结果中,南湖旅游文化集聚区、南湖CBD分别斩获"
        "数字文旅类和其他类的第一名、第二名。"
    )
    assert answer("在2021年度嘉兴市服务业集聚区评估里,南湖CBD拿了第几名?", text) == "第二名"
    assert (
        answer("2021年度嘉兴市服务业集聚区评估中,南湖旅游文化集聚区拿了第几名?", text) == "第一名"
    )


def test_english_keywords_come_from_noun_forms_and_pairs_either_way_round() -> None:
    from rag import translate

    vocabulary = {"工业", "增加值", "浙江"}
    keywords = translate.to_chinese("How much was Zhejiang's industrial added value?", vocabulary)
    # 'industrial' is glossed through 'industry' (工业), 'added value' as 'value added'.
    assert {"工业", "增加值"} <= set(keywords)
    assert "agriculture" in translate._variants("agricultural")
    assert translate._variants("value added") == ["value added"]  # pairs as they are


def test_a_firm_or_person_the_question_names_must_be_named_by_the_article() -> None:
    from dataclasses import replace

    from rag.evidence import ArticleText

    text = "到2027年,累计培育年产值超千亿元的化工园区6个以上。"
    s = replace(sentence(text), article=ArticleText(lambda: "绿色石化产业基地\n" + text))
    # The figure is of the province's chemical parks, not of 桐昆集团's project.
    assert not satisfies(analyse("桐昆集团的项目建成后预计年产值是多少?"), s)
    assert satisfies(analyse("化工园区的年产值是多少?"), s)
    # Named in other words of the same article: 新昌县农业农村局 for 新昌农业农村局, and
    # a writer named only by the byline the article text is given with.
    rules = "针对八个方面制定了基层重点事项治理‘微八条’。"
    bureau = replace(sentence(rules), article=ArticleText(lambda: "新昌县农业农村局\n" + rules))
    assert satisfies(analyse("新昌农业农村局针对八个方面定的治理规矩叫什么?"), bureau)
    assert not satisfies(analyse("嵊州农业农村局针对八个方面定的治理规矩叫什么?"), bureau)
    # A short form of a name the article spells out: 中国信通院 of 中国信息通信研究院.
    rank = "绍兴位列“制造业高质量发展50强城市”第15位。"
    report = replace(
        sentence(rank), article=ArticleText(lambda: "中国信息通信研究院首次发布报告。\n" + rank)
    )
    assert satisfies(analyse("中国信通院发布的报告中，绍兴在50强城市里排第几？"), report)
    assert not satisfies(analyse("中国科学院发布的报告中，绍兴在50强城市里排第几？"), report)


def test_a_chinese_question_s_place_may_be_named_anywhere_in_the_article() -> None:
    from dataclasses import replace

    from rag.evidence import ArticleText

    text = "全市工业增加值达到1200亿元。"
    article = ArticleText(lambda: "本报湖州9月4日电 记者 张三\n" + text)
    s = replace(sentence(text), article=article)
    # The dateline names the city once; the passage says 全市.
    assert satisfies(analyse("湖州的工业增加值是多少？"), s)
    assert not satisfies(analyse("嘉兴的工业增加值是多少？"), s)
    # An English question's place is a dictionary rendering: the passage, the title or the
    # article's lead (its dateline) must name it, not any line of a long article.
    en = replace(analyse("What was the industrial added value of Huzhou?"), places=("湖州",))
    assert satisfies(en, s)
    deep = ArticleText(lambda: "本报9月4日电 记者 张三\n" + "…" * 300 + "湖州" + text)
    assert not satisfies(en, replace(s, article=deep))
    assert satisfies(en, replace(s, article=deep, title="湖州工业"))


def test_the_measure_word_asked_for_picks_the_figure() -> None:
    # 多少起 counts incidents: 1071起, not the 3例 of another count in the same sentence.
    pool = scored("今年以来,上虞区查处违法行为3例,劝导各类不文明养犬行为1071起。")
    q = analyse("今年上虞区劝导了多少起不文明养犬行为?")
    assert q.unit == "起"
    result = read(q, pool, ReadingParams(), lambda _: True)
    assert result.answered and result.picks[0].short == "1071起"


def test_a_ratio_asked_for_is_answered_by_a_ratio() -> None:
    assert spans_of("城乡居民收入比缩小至1.53:1,收入达4.6万元。", "number") == ["1.53:1", "4.6万元"]
    assert spans_of("上午9:30开幕,到11:00结束。", "number") == []  # clock times are no ratio
    q = analyse("嘉兴城乡居民收入比是多少?")
    assert q.type == "number" and q.unit == "[:∶]"
    assert analyse("What is Jiaxing's urban-rural income ratio?").unit == "[:∶]"
    assert analyse("比上年增长多少?").type == "percent"  # a comparison, not a ratio
    pool = scored("嘉兴城乡居民收入分别增加至7.59万元、4.96万元,城乡居民收入比1.53:1。")
    result = read(q, pool, ReadingParams(), lambda _: True)
    assert result.answered and result.picks[0].short == "1.53:1"
    assert english.render("1.53:1", "number") == "1.53:1"


def test_a_kind_of_zone_the_question_names_is_no_place_constraint() -> None:
    from dataclasses import replace

    from rag.evidence import ArticleText

    text = "面对两难情况,金华开发区经发局召集双方沟通协调,最终停止供热的时间缩短至6天。"
    lead = "金华宁能热电有限公司计划2月3日至18日停止供热。"
    s = replace(sentence(text), article=ArticleText(lambda: lead + "\n" + text))
    q = analyse("金华宁能热电检修期间,经开区协调后停止供热缩短到了几天?")
    assert "经开区" in q.places
    assert satisfies(q, s)
    assert not satisfies(analyse("嘉兴经开区协调后停止供热缩短到了几天?"), s)  # a named one is


@pytest.mark.parametrize(
    ("question", "unit"),
    [
        # What 'how many' counts is the head of its phrase, not a noun elsewhere.
        ("HR staff from how many large and medium-sized companies joined the pool?", "家"),
        ("How many people visited Yunhe in 2023?", "人|名|位"),
        ("How many tonnes of bonded fuel were supplied at Zhoushan Port?", "吨"),
        # A count of things whose measure word is not known: any count, no money or time.
        ("How many clean village benchmarks has Xinchang County built?", question.COUNT),
        ("How many hours does the ferry take?", "小时"),
        ("What was Sanmen County's GDP in 2023?", "元"),
        ("What is the population of Paitou Town?", "人"),
        # A balance of loans is money, whoever borrowed it.
        ("What was the balance of loans to small and micro businesses in March?", "元"),
        # 'How long' is a duration unless a road or a line is measured.
        ("How long was the heat-supply shutdown cut to?", "年|月|天|日|周|小时|分钟|秒"),
        ("How long is the Hangzhou-Shaoxing intercity railway?", "公里|千米|米"),
    ],
)
def test_the_unit_an_english_question_asks_for(question: str, unit: str | None) -> None:
    assert analyse(question).unit == unit


def test_a_city_named_without_its_suffix_answers_which_city() -> None:
    from rag import translate

    assert translate.place_level("成都") == "市" and translate.place_level("长兴") == "县"
    pool = scored("9月1日至2日,第五届中国质量大会在四川成都举行。")
    q = analyse("In which city was the 5th China Quality Conference held?")
    assert q.unit == "市"
    city = read(q, pool, ReadingParams(), lambda _: True)
    assert city.answered and city.picks[0].span.text == "成都"  # not the province, 四川
    assert city.picks[0].short == "Chengdu"
    county = analyse("In which county was the 5th China Quality Conference held?")
    assert not read(county, pool, ReadingParams(), lambda _: True).answered


def test_a_passage_without_years_speaks_of_its_publication_year() -> None:
    from dataclasses import replace

    from rag.types import ArticleMeta

    s = replace(sentence("全市工业增加值达到1200亿元。"), meta=ArticleMeta(issue="2024年第10期"))
    assert satisfies(analyse("2023年全市工业增加值是多少？"), s)  # the year before the issue
    assert satisfies(analyse("2024年全市工业增加值是多少？"), s)
    assert not satisfies(analyse("2016年全市工业增加值是多少？"), s)
    # An article of unknown date refuses nothing on that ground.
    assert satisfies(
        analyse("2016年全市工业增加值是多少？"), sentence("全市工业增加值达到1200亿元。")
    )


def test_a_place_read_as_one_word_is_stated_piece_by_piece() -> None:
    from dataclasses import replace

    from rag.evidence import ArticleText

    text = "在海盐县望海街道新街社区,有一间名叫“暖心坊”的工坊。在该县开发区的鑫达科创园内。"
    s = replace(sentence(text), article=ArticleText(lambda: "嘉善县 " + text))
    # LAC reads 海盐新街社区 as one place; the article names 海盐 and 新街社区.
    assert satisfies(analyse("海盐新街社区的“暖心坊”主要是干什么的?"), s)
    assert satisfies(analyse("嘉善开发区鑫达科创园里还集聚了哪家公共服务平台?"), s)
    assert not satisfies(analyse("海盐北街社区的“暖心坊”主要是干什么的?"), s)


def test_an_untyped_question_is_answered_only_from_a_sentence_that_fits_it() -> None:
    pool = scored("2023年,嘉兴端午民俗文化节在子城遗址公园拉开帷幕。", "端阳大集惊艳亮相。")
    why = read(analyse("2021年嘉兴端午民俗文化节为什么选在子城遗址公园?"), pool,
               ReadingParams(), lambda _: True)  # fmt: skip
    assert not why.answered  # the asked year is not the one the article speaks of
    fits = read(analyse("2023年嘉兴端午民俗文化节为什么选在子城遗址公园?"), pool,
                ReadingParams(), lambda _: True)  # fmt: skip
    assert fits.answered and fits.picks[0].sentence.text.startswith("2023年")


def test_english_names_the_dictionary_knows_become_chinese_forms_to_find() -> None:
    from rag import translate

    vocabulary = {"湖州", "长兴", "东茗", "澳大利亚", "光", "速度"}
    assert translate.named_things("What is the capital of Australia?", vocabulary) == [
        frozenset({"澳大利亚", "澳洲", "澳大利亚洲", "土澳"})
    ]
    assert {"珠穆朗玛峰", "珠峰"} <= translate.named_things(
        "How tall is Mount Everest?", vocabulary
    )[0]
    # Romanised Chinese is left to the article's own words (Dongming may be 东茗, not 东明);
    # common words, months and nationalities are no names.
    for text in (
        "Which village in Dongming Township won?",
        "Which county won the Tripod in Huzhou?",
        "What did the West Lake museum open in May?",
        "Which Chinese city hosted it?",
        "Who is the general manager of Jiaxing Gu'ao Gene Technology?",  # not Gu (古县)
    ):
        assert translate.named_things(text, vocabulary) == [], text


def test_an_english_question_whose_words_no_article_uses_is_unmatched() -> None:
    from rag import translate

    vocabulary = {"光", "速度", "cop15", "湖州"}
    assert translate.shares_no_word("What is photosynthesis?", vocabulary)
    assert not translate.shares_no_word("What is the speed of light?", vocabulary)
    assert not translate.shares_no_word("What is COP15?", vocabulary)  # as the articles write it
    assert not translate.shares_no_word("What about Huzhou?", vocabulary)  # a romanised name
    assert not translate.shares_no_word("Xyzzy plugh?", vocabulary)  # nothing to judge by


def test_a_count_question_is_not_answered_by_money_or_a_span_of_time() -> None:
    q = "How many common-prosperity stations are there in Yunhe County?"
    s = "云和县共富驿站经过4个月的洽谈协商,石塘镇强村公司同意投资40万元。"
    assert answer(q, s) is None
    assert answer(q, s, "丽水已建成共富驿站20个。") == "20"


def test_an_english_figure_must_be_of_the_measure_asked() -> None:
    from dataclasses import replace

    q = analyse("What was Sanmen County's GDP in 2023?")
    assert q.type == "number" and q.measure_words == ("生产总值|gdp",)
    investment = "2023年以来,三门县完成能源领域重点项目投资共计66.07亿元。"
    gdp = "2023年,三门县实现地区生产总值320.5亿元。"
    q = replace(q, keywords=("三门",))
    assert not read(q, scored(investment), ReadingParams(), lambda _: True).answered
    got = read(q, scored(investment, gdp), ReadingParams(), lambda _: True)
    assert got.answered and got.picks[0].span.text == "320.5亿元"  # type: ignore[union-attr]
    # 'a single charge' is no fee.
    assert analyse("How far can the vehicles travel on a single charge?").measure_words == ()


def test_romanised_names_prefer_the_dictionary_s_name_and_may_be_placed_by_the_question() -> None:
    from rag import translate

    # 长性 (of 成长性) and 长兴 are both 'changxing': the dictionary names 长兴.
    vocabulary = {"长性", "长兴", "牌头", "诸暨"}
    assert translate.names_in("What did Changxing County build?", vocabulary) == ["长兴"]
    # LAC does not know 牌头 as a place; 'Paitou Town' says it is one.
    assert set(translate.places_in("What is the population of Paitou Town?", vocabulary)) == {
        "牌头"
    }
    assert translate.places_in("What did Paitou say?", {"牌头"}) == []


def test_a_relative_year_speaks_of_a_year_counted_from_publication() -> None:
    from dataclasses import replace

    from rag.types import ArticleMeta

    text = "截至今年7月,全市登记在册的民宿超过1700家。"
    s = replace(sentence(text), meta=ArticleMeta(issue="2023年第8期"))
    assert satisfies(analyse("2023年全市登记的民宿有多少家？"), s)
    assert not satisfies(analyse("2022年全市登记的民宿有多少家？"), s)  # 今年 is 2023
    last = replace(sentence("去年全市民宿超过1500家。"), meta=ArticleMeta(issue="2023年第8期"))
    assert satisfies(analyse("2022年全市民宿有多少家？"), last)
    assert not satisfies(analyse("2023年全市民宿有多少家？"), last)
    # Unknown publication year, or a relative word of no fixed year: no refusal.
    assert satisfies(analyse("2022年全市登记的民宿有多少家？"), sentence(text))
    same = replace(sentence("比上年同期增长8%。"), meta=ArticleMeta(issue="2023年第8期"))
    assert satisfies(analyse("2021年全市增长了多少？"), same)


def test_english_places_are_ordered_larger_first_and_levels_tell_homophones_apart() -> None:
    from rag import translate

    vocabulary = {"牌头", "诸暨", "嘉兴", "南湖", "大运", "大云", "大云镇", "嘉善"}
    # The town is what matters, wherever the question names it.
    assert translate.places_in("What is the population of Paitou Town in Zhuji?", vocabulary) == [
        "诸暨",
        "牌头",
    ]
    assert translate.places_in("What runs in Jiaxing's Nanhu District?", vocabulary) == [
        "嘉兴",
        "南湖",
    ]
    # 'Dayun Town' is 大云镇, not 大运 (of 大运河).
    assert translate.names_in("Which bank is in Dayun Town, Jiashan?", vocabulary) == [
        "大云镇",
        "嘉善",
    ]
    assert analyse("Which chocolate company is based in Miaojia Village?").type == "org"


def test_what_a_chinese_how_many_counts_decides_the_figure() -> None:
    assert analyse("上虞区市民办理电子犬证需要缴纳多少费用？").unit == "元"
    assert analyse("在岗职工每月能领多少岗位补助?").unit == "元"
    assert analyse("完成这项工作需要多少时间？").unit is None  # in a unit not named
    villagers = "嘉善县大云镇缪家村有多少村民？"
    walkway = "308米的空中廊道串联起缪家村文化礼堂和邻里中心。"
    assert answer(villagers, walkway) is None  # 308 metres count no villagers
    assert answer(villagers, walkway, "缪家村现有村民2600余人。") == "2600余人"
    # A substance is weighed: '多少蒸汽' is answered in tonnes.
    assert answer("永和氟化工每小时要用多少蒸汽?", "永和氟化工每小时要用11吨蒸汽。") == "11吨"


def test_an_english_figure_above_designated_size_is_the_statistics_of_that_scope() -> None:
    from dataclasses import replace

    text = "What was Zhejiang's added value of industry above designated size in 2023?"
    q = replace(analyse(text), places=("浙江",), keywords=("浙江", "增加值"))
    assert q.measure_words == ("增加值", "规上|规模以上|限上|限额以上")
    all_industry = "2023年,全省工业增加值达到2.94万亿元,居全国第三。"
    county = "2023年,全县规上工业增加值134.9亿元。"
    province = "2023年,浙江实现规上工业增加值22388亿元,同比增长6%。"
    # Neither the figure of all industry nor a county's (全县) answers for the province.
    assert not read(q, scored(all_industry, county), ReadingParams(), lambda _: True).answered
    got = read(q, scored(all_industry, county, province), ReadingParams(), lambda _: True)
    assert got.answered and got.picks[0].span.text == "22388亿元"  # type: ignore[union-attr]


def test_asked_thing_is_the_noun_a_what_is_the_x_of_question_asks_about() -> None:
    from rag import translate

    assert {"首都", "资本"} <= translate.asked_thing("What is the capital of Australia?")
    assert "河流" in translate.asked_thing("what's the longest river in Africa?")
    assert "沸点" in translate.asked_thing("What is the boiling point of water?")  # a pair
    assert "河流" in translate.asked_thing("which river is the longest in africa")
    assert "骨骼" in translate.asked_thing("how many bones does an adult human have")
    # A work named with its kind: the passage must speak of a novel, not use the phrase.
    assert "小说" in translate.asked_thing("Who wrote the novel Pride and Prejudice?")
    assert translate.asked_thing("Who wrote the article about the novel?") == set()
    # A verb after 'was' is no thing asked about ('Which special campaign was launched').
    assert translate.asked_thing("Which special campaign was launched that day?") == set()
    # Heads naming only the kind of answer, or a level, constrain nothing.
    assert translate.asked_thing("What is the name of the plan Shaoxing issued?") == set()
    assert translate.asked_thing("What is the full name of the plan Zhejiang issued?") == set()
    assert translate.asked_thing("Which is the county that won the Tripod?") == set()
    assert translate.asked_thing("How many tonnes of fuel were supplied?") == set()


def test_a_chinese_how_many_of_people_is_a_count_of_people() -> None:
    assert analyse("2023年嘉兴端午民俗文化节吸引了多少游客?").unit == "人|名|位"
    assert analyse("这个村有多少村民参加了培训？").unit == "人|名|位"
    festival = "2023年嘉兴端午民俗文化节已经跨入第18个年头。"
    assert answer("2023年嘉兴端午民俗文化节吸引了多少游客?", festival) is None
    stated = "2023年嘉兴端午民俗文化节吸引游客12万人次。"
    assert answer("2023年嘉兴端午民俗文化节吸引了多少游客?", stated) == "12万人次"


def test_which_year_is_answered_by_a_year_not_by_how_often() -> None:
    often = "“全国档案系统先进集体”是档案系统的最高荣誉,每4年评选一次。"
    q = "衢州市档案馆是哪一年获评“全国档案系统先进集体”的？"
    assert answer(q, often) is None
    assert answer(q, "2021年,衢州市档案馆获评“全国档案系统先进集体”。") == "2021年"


def test_an_edition_asked_is_the_edition_the_sentence_states() -> None:
    assert analyse("第四届中国质量大会是在哪座城市举办的？").editions == ("4",)
    assert analyse("Where was the 5th China Quality Conference held?").editions == ("5",)
    second = "Which city hosted the second National Vocational Skills Competition?"
    assert analyse(second).editions == ("2",)
    assert analyse("Which was the first county to win?").editions == ()  # no named event
    fifth = "9月1日至2日,第五届中国质量大会在四川成都举行。"
    assert answer("第四届中国质量大会是在哪座城市举办的？", fifth) is None
    assert answer("第五届中国质量大会是在哪座城市举办的？", fifth) in ("成都", "四川成都")


def test_a_noun_of_people_before_the_question_word_says_who_not_what() -> None:
    welder = "在刚结束的第二届全国职业技能大赛中,绍兴市技能人才丁澄洋荣获焊接项目第五名(优胜奖)。"
    q = "在全国职业技能大赛焊接项目中获得第五名的绍兴选手叫什么名字？"
    assert answer(q, welder) == "丁澄洋"  # the sentence says 技能人才, not 选手
    # A deed before the question word is still required: 主持 is not 出席.
    assert answer("由谁主持？", "张三出席了会议。") is None
    assert answer("由谁主持？", "会议由张三主持。") == "张三"


def test_an_english_share_question_is_answered_by_a_share_not_a_growth() -> None:
    share = analyse(
        "At the end of 2022, what share of Zhejiang's skilled workers were highly skilled?"
    )
    assert "占|比重|比例" in share.measure_words
    fall = analyse("By what percentage did fraud reports fall year on year?")
    assert "占|比重|比例" not in fall.measure_words


def test_a_count_of_people_counts_the_people_asked_for() -> None:
    q = "云和梯田景区2023年一共接待了多少游客？"
    assert analyse(q).attribute == ("游客",)
    youth = "2023年,云和梯田游客接待量增长了174%,吸引5000多名外出青年返乡创业。"
    assert answer(q, youth) is None  # 5000多名 counts young people coming home
    assert answer(q, "2023年,云和梯田景区共接待游客120万人次。") == "120万人次"


def test_how_long_is_a_thing_may_be_a_length_or_a_time() -> None:
    assert "米" in analyse("How long is the elevated walkway in Miaojia Village?").unit
    assert "米" not in analyse("How long did the renovation take?").unit


def test_the_name_of_a_role_asks_for_a_person() -> None:
    q = analyse("What is the name of Longgang's mayor?")
    assert q.type == "person" and q.roles == ("市长",)
    vice = "龙港市副市长胡月珍在交流发言中介绍经验做法。"
    assert answer("What is the name of Longgang's mayor?", vice) is None  # a vice mayor


def test_an_edition_is_read_from_the_passage_when_the_sentence_names_none() -> None:
    fifth = "9月1日至2日,第五届中国质量大会开幕。"
    held = "在这场重磅会议中,温州龙港市受邀出席开幕式并在分论坛中作交流发言。"
    # scored() puts every text in one passage: the passage is of the 5th conference.
    assert answer("第四届中国质量大会上哪个城市受邀出席开幕式？", held, fifth) is None
    assert answer("第五届中国质量大会上哪个城市受邀出席开幕式？", held, fifth) in ("龙港市", "温州")


def test_of_two_places_side_by_side_the_second_is_the_one_meant() -> None:
    assert answer("第五届中国质量大会在哪里举行？", "第五届中国质量大会在四川成都举行。") == "成都"


def test_an_english_title_joined_by_and_is_one_name_the_dictionary_knows() -> None:
    from dataclasses import replace

    from rag import translate

    found = translate.named_things("Who wrote Pride and Prejudice?", {"偏见"})
    assert frozenset({"傲慢与偏见"}) in found
    # Its words on different pages do not name it.
    assert not read(
        replace(analyse("Who wrote Pride and Prejudice?"), entities=("傲慢与偏见",)),
        scored("傲慢是一种态度。", "偏见是另一种。"),
        ReadingParams(),
        lambda _: True,
    ).answered


def test_a_person_an_english_question_names_must_be_named_by_the_answers_article() -> None:
    from rag.ask import english_constraints

    vocabulary = {"竺士杰", "宁波", "公司"}
    q = english_constraints(
        analyse("Which company does Zhu Shijie of Ningbo work for?"), vocabulary
    )
    assert "竺士杰" in q.entities and "宁波" not in q.entities  # a place is no person
    other = "一年半前,梁志梅进入宁海第一注塑有限公司的“人才生产线”。"
    assert not read(q, scored(other), ReadingParams(), lambda _: True).answered


def test_an_english_fall_asked_for_is_answered_by_a_fall() -> None:
    q = "By how much did Shangyu's dog-licensing reform cut the processing time?"
    online = "上虞区在实现100%在线办理的同时,聚焦群众需求。"
    cut = "上虞区养犬登记办理时间压缩70%以上。"
    assert answer(q, online) is None
    assert answer(q, online, cut) == "70%"


def test_an_english_question_names_one_of_respective_subjects_by_its_pinyin() -> None:
    clusters = "南湖旅游文化集聚区、南湖CBD分别斩获数字文旅类和其他类的第一名、第二名。"
    assert answer("What place did Nanhu CBD take in Jiaxing's assessment?", clusters) == "2nd"


def test_english_levels_of_government_become_their_chinese_level_words() -> None:
    from rag import translate

    vocabulary = {"市级", "省级", "标杆"}
    keywords = translate.to_chinese("How many municipal-level benchmarks are there?", vocabulary)
    assert "市级" in keywords and "省级" not in keywords


def test_a_later_count_that_names_nothing_counts_what_the_first_part_counts() -> None:
    q = analyse(
        "How many enterprises have the city's leaders visited, and how many have the county's?"
    )
    assert [p.unit for p in q.parts] == ["家", "家"]


def test_an_english_count_is_of_the_thing_asked_by_its_measure_word() -> None:
    from rag import translate
    from rag.ask import english_constraints

    assert "包裹" in translate.asked_thing("How many parcels a day does each vehicle deliver?")
    assert translate.classifiers("车") == {"辆"} and translate.is_classifier("艘")
    vocabulary = {"南湖", "包裹", "床位", "民宿", "宁波"}

    def read_en(question: str, *texts: str) -> str | None:
        q = english_constraints(analyse(question), vocabulary)
        got = read(q, scored(*texts), ReadingParams(), lambda _: True)
        return got.picks[0].span.text if got.answered and got.picks[0].span else None

    vehicles = "当天下午,5辆无人配送车在南湖区试点投用,每天配送包裹。"
    assert read_en("How many parcels a day does each vehicle in Nanhu deliver?", vehicles) is None
    assert read_en("How many vehicles were put into use in Nanhu?", vehicles) == "5辆"
    # 家 counts businesses, not beds; a generic measure word (个) may count anything.
    homestays = "宁波全市登记在册的民宿超过1700家,床位数量35万余个。"
    assert read_en("How many beds do Ningbo's homestays have?", homestays) == "35万余个"


def test_a_name_the_question_quotes_is_stated_next_to_the_answer() -> None:
    q = "衢州市档案馆上一次获评“全国档案系统先进集体”是在哪一年？"
    other = "2022年,衢州市档案馆接收了一家民营企业的档案。"
    assert answer(q, other) is None
    honour = "2021年,衢州市档案馆获评“全国档案系统先进集体”。"
    assert answer(q, other, honour) == "2021年"
    # Punctuation inside the quote may differ (、 for ,); a title question is not held to it.
    school = "浙江工匠学院与省总工会干部学校实行“一套班子,两块牌子”。"
    assert answer("浙江工匠学院与哪个单位是“一套班子、两块牌子”？", school) == "省总工会干部学校"


def test_an_english_question_s_place_may_be_named_by_the_article_s_lead() -> None:
    from dataclasses import replace

    from rag.ask import english_constraints
    from rag.evidence import ArticleText

    q = english_constraints(analyse("How far can the vehicles in Nanhu go on one charge?"),
                            {"南湖", "车辆"})  # fmt: skip
    text = "车辆充一次电可以跑200公里。"
    lead = "无人配送车亮相街头\n本报嘉兴1月31日电 南湖区大桥镇的非机动车道上。"
    in_lead = replace(sentence(text), article=ArticleText(lambda: lead + "……" + text))
    far = replace(
        sentence(text), article=ArticleText(lambda: lead[:10] + "…" * 300 + "南湖" + text)
    )
    assert satisfies(q, in_lead)
    assert not satisfies(q, far)  # a place named deep in a long article is not its place


def test_an_english_question_s_own_organisation_is_not_its_answer() -> None:
    from rag.ask import english_constraints

    q = english_constraints(
        analyse("Which company signed the agreement with the Ningbo Port Group?"),
        {"宁波", "港口", "集团", "公司", "协议"},
    )
    deal = "宁波港口集团与舟山航运有限公司签署协议。"
    got = read(q, scored(deal), ReadingParams(), lambda _: True)
    assert got.answered and got.picks[0].short == "舟山航运有限公司"


def test_an_article_s_own_question_is_answered_by_its_next_sentence() -> None:
    texts = [
        ("中国质量大会为何邀请龙港参加?", 1.10),
        ("本报讯 9月1日至2日,第五届中国质量大会在四川成都举行。", 1.02),
        ("答案就是:城市标准化建设。", 0.60),
    ]
    at, pool = {"中国质量大会为何邀请龙港参加?": 100, "答案就是:城市标准化建设。": 115}, []
    for text, score in texts:
        start = at.get(text, 0)
        s = Sentence("a.txt", "标题", start, start + len(text), text, "p", 0, context=text)
        pool.append(Scored(s, score, score, 0.5))
    pool.sort(key=lambda x: -x.score)
    order = untyped_order(analyse("中国质量大会为什么会邀请龙港参会？"), pool, ReadingParams())
    assert order[0].sentence.text == "答案就是:城市标准化建设。"
    # Not next to it: no answer of the question.
    pool[-1] = Scored(replace(pool[-1].sentence, start=300, end=312), 0.60, 0.60, 0.5)
    order = untyped_order(analyse("中国质量大会为什么会邀请龙港参会？"), pool, ReadingParams())
    assert order[-1].sentence.start == 300


def test_english_words_only_a_phrase_glosses_and_hyphenated_words_translate() -> None:
    from rag import translate

    vocabulary = {"制造业", "高质量", "不是", "发展"}
    q = "How has high-quality manufacturing developed, according to issue No. 10?"
    keywords = translate.to_chinese(q, vocabulary)
    # 'manufacturing' is glossed only within "manufacturing industry"; 'high-quality' is
    # the dictionary's "high quality"; 'No. 10' is no 'no'.
    assert {"制造业", "高质量"} <= set(keywords) and "不是" not in keywords
    # A name heads phrases too ("Zhejiang University"): it is no word to translate so.
    assert "浙江大学" not in translate.to_chinese("What did Zhejiang build?", {"浙江大学"})


def test_a_later_english_part_that_names_its_count_keeps_it() -> None:
    from rag import translate

    q = analyse(
        "How far can the vehicles travel on one charge, and how many cameras does each carry?"
    )
    assert q.parts[0].unit == "公里|千米|米"
    assert q.parts[1].unit != q.parts[0].unit  # cameras are no kilometres
    # Kinds of the thing counted name it too: a 摄像头 is a "surveillance camera".
    assert "摄像头" in translate.asked_thing("how many cameras does each carry?")
    # People come in 人, 名 or 位.
    assert analyse("How many people did Zhu Shijie train?").unit == "人|名|位"


def test_of_several_figures_the_one_whose_clause_holds_the_question_s_words_answers() -> None:
    listing = "宁波全市登记在册的民宿超过1700家,床位数量35万余个,浙江省等级民宿122家。"
    assert answer("宁波登记在册的民宿有多少家？", listing) == "1700家"


def test_an_english_which_question_asks_for_the_kind_its_noun_names() -> None:
    archive = (
        "Which archive was the only city archive in Zhejiang to be named an advanced collective?"
    )
    assert analyse(archive).type == "org"  # 'named' does not make it a title question
    assert analyse("Which three teams does Zhuji build up?").type != "org"  # a list
    signed = "现场,宁波市民宿经济促进会与浙江光大明悦国际旅行社签订战略合作协议。"
    q = "Which travel agency signed with the Ningbo Homestay Economy Promotion Association?"
    # The association is the question's own name in translation (Ningbo, homestay, economy);
    # the travel agency is the kind asked for.
    assert answer(q, signed) == "浙江光大明悦国际旅行社"
    assert answer("Which association signed an agreement with a travel agency?", signed) == (
        "宁波市民宿经济促进会"
    )


def test_how_heavy_far_or_long_asks_for_its_measure() -> None:
    assert analyse("每辆无人配送车最多能装载多重的快递？").unit == "吨|公斤|千克|斤|克"
    assert analyse("无人车充一次电能跑多远？").unit == "公里|千米|米"
    trial = "当天下午,5辆无人配送车在南湖区试点投用。"
    assert answer("南湖区试点的无人配送车每辆最多能装载多重的快递？", trial) is None
    load = "每辆无人配送车最多可装载500公斤快递。"
    assert answer("南湖区试点的无人配送车每辆最多能装载多重的快递？", trial, load) == "500公斤"


def test_a_sentence_of_another_city_does_not_answer_for_the_city_asked() -> None:
    ningbo = sentence(
        "截至今年7月,宁波全市登记在册的民宿超过1700家。",
        "宁波民宿邀杭州市民去看海。截至今年7月,宁波全市登记在册的民宿超过1700家。",
    )
    assert not satisfies(analyse("截至今年7月，杭州全市登记在册的民宿有多少家？"), ningbo)
    assert satisfies(analyse("截至今年7月，宁波全市登记在册的民宿有多少家？"), ningbo)
    # A district of the city asked about is not another city.
    nanhu = sentence("南湖区新增市场主体1.2万户。", "嘉兴市南湖区新增市场主体1.2万户。")
    assert satisfies(analyse("嘉兴新增市场主体多少户？"), nanhu)


def test_a_title_the_question_names_is_not_its_answer() -> None:
    q = "《理可顿悟 事须渐修》一文引用的是哪部典籍的记载？"
    assert analyse(q).type == "title"  # 哪部典籍: a work
    assert analyse("王书记叫什么名字？").type == "person"  # 书记 is no book
    quote = "“理可顿悟，事须渐修，应次第尽”出自《楞严经》。"
    assert answer(q, quote) == "楞严经"  # not the saying the question's title quotes


def test_a_rate_keeps_its_per_and_a_range_asked_for_is_one_span() -> None:
    flow = "马山闸强排工程建成后排涝流量最大可达200立方米/秒。"
    assert answer("马山闸强排工程建成后最大排涝流量是多少？", flow) == "200立方米/秒"
    season = "每年4月15日至10月15日是浙江省的防汛期。"
    assert answer("浙江省每年的防汛期是从几月几日到几月几日？", season) == "4月15日至10月15日"
    assert answer("浙江省每年的防汛期从哪天开始？", season) == "4月15日"  # one date asked
    revenue = "今年9月,牌头镇实现财政收入2.31亿元,同比增长40.75%。"
    assert answer("牌头镇今年9月的财政收入比去年同期涨了多少？", revenue) == "40.75%"


def test_of_a_figure_from_a_to_b_b_is_what_it_is_now() -> None:
    gdp = "2003年到2023年嘉兴全市地区生产总值从856亿元增加至7062.5亿元。"
    assert answer("2023年嘉兴市地区生产总值是多少？", gdp) == "7062.5亿元"
    assert answer("2003年嘉兴市地区生产总值是多少？", gdp) == "856亿元"  # the earlier year
    days = "金华审批周期从29个工作日缩减为10个工作日。"
    assert answer("金华审批周期缩短到几个工作日？", days) == "10个工作日"
    assert answer("金华审批周期原来要几个工作日？", days) == "29个工作日"


def test_words_the_tagger_mistakes_for_names_or_places_constrain_nothing() -> None:
    # 张罗 (to arrange) is no person the article must name; 镇里 ('the town's') no place;
    # 国家级荣誉称号 asks for a title, not a country.
    q = analyse("海盐望海街道那个给“暖心坊”张罗来料加工企业招聘会的社区，党组织书记是谁？")
    assert "张罗" not in q.entities
    assert analyse("他因此获得了什么国家级荣誉称号？").type == "title"
    young = "云和县90后创业小伙周恩君与石塘镇强村公司合资成立的云和县名胜食品有限公司完成注册登记。"
    assert answer("云和县有个90后小伙和镇里的强村公司合资开了食品公司，他叫什么名字？", young) == (
        "周恩君"
    )
    # Two nouns joined by 和 are both what is counted: 36个乡镇(街道), not 4个区县.
    ding = "长兴县、德清县、安吉县、吴兴区等4个区县和妙西镇等36个乡镇(街道)成功夺鼎。"
    assert analyse("获奖的乡镇和街道一共有多少个？").attribute == ("街道", "乡镇")
    assert answer("首次颁发生态鼎，获奖的乡镇和街道一共有多少个？", ding) == "36个"


def test_english_types_named_after_a_modifier_and_more_place_levels() -> None:
    assert analyse("What national honour did the Quzhou archives receive?").type == "title"
    assert analyse("In which subdistrict of Shangyu was the centre set up?").type == "place"
    community = analyse("In which community of Datang Subdistrict was the group founded?")
    assert community.type == "place" and community.unit == "社区"
    assert analyse("What was the R&D spending intensity of Qiantang in 2023?").type == "percent"
    became = "Jiaxing became which city in Zhejiang to pass the 100-billion mark?"
    assert analyse(became).type == "rank"  # 全省第二个: its place in the order
    long_name = "What was Zhejiang's above-designated-size industrial added value in 2021?"
    assert analyse(long_name).type == "number"  # four words before 'value'
    founded = (
        "针对网络诈骗,大唐街道开展反诈工作,去年,外来建设者集中的雍平社区发起成立“老乡反诈团”。"
    )
    q = "In which community of Datang Subdistrict was the anti-fraud group founded?"
    assert answer(q, founded) == "Yongping Community"  # 大唐街道 is the question's own


def test_a_figure_from_one_year_to_another() -> None:
    growth = "丽水全市在册市场主体增长率已从2021年的4.94%增长到2023年的9.17%。"
    assert answer("What was the growth rate of market entities in Lishui in 2023?", growth) == (
        "9.17%"
    )
    assert answer("丽水2021年在册市场主体增长率是多少？", growth) == "4.94%"


def test_a_post_is_read_from_the_title_next_to_the_name() -> None:
    q = "介绍丽水驿站建设情况的艾勇丰，担任的是什么职务？"
    assert analyse(q).type == "title"
    said = "丽水市市场监管局行政审批处处长艾勇丰介绍,丽水在全市域推进共富驿站建设。"
    assert answer(q, said) == "丽水市市场监管局行政审批处处长"
    acting = "5月16日，台州市人民检察院党组书记、代检察长周晓杨在台州市第一中学说。"
    assert answer("周晓杨在台州市检察院担任什么职务？", acting) == (
        "台州市人民检察院党组书记、代检察长"
    )
    author = "辛鸣, 哲学博士, 中共中央党校马克思主义学院副院长、教授。"
    assert (
        answer("辛鸣在中央党校担任什么职务？", author) == "中共中央党校马克思主义学院副院长、教授"
    )
    # A port's position is its rank.
    assert analyse("Among the world's ports, what position does Zhoushan Port hold?").type == (
        "rank"
    )
    assert analyse("What position does Ai Yongfeng hold?").type == "title"


def test_english_roles_and_measures_asked_through_a_verb() -> None:
    assert "所长" in analyse("Who heads the Yushan police station?").roles  # 'heads'
    foreman = "浙江鼎盛石化工程有限公司新提拔的班组长赵巍说起岱山县鱼山岛的预防中心。"
    assert answer("Who heads the Yushan police station in Daishan County?", foreman) is None
    minister = "舟山绿色石化基地管委会党群工作部部长陈浩鑫说。"
    assert answer("Who heads the Party-mass work department of the base?", minister) == (
        "Chen Haoxin"
    )
    assert analyse("How much did the company invest in Jiaxing?").measure_words == ("投",)
    assert analyse("How many foreign-invested firms did Jinhua add?").measure_words == ()


def test_a_grade_asked_for_and_a_county_level_city() -> None:
    bid = sentence("2017年，云和县启动云和梯田创建国家5A级旅游景区工作。")
    assert not satisfies(analyse("云和梯田是在哪一年被评为国家4A级旅游景区的？"), bid)
    assert satisfies(analyse("云和梯田是在哪一年启动创建国家5A级景区的？"), bid)
    q = analyse("In which county-level city is Ningbo Jianxin Superconducting based?")
    assert q.type == "place" and q.unit == "市"


def test_n_da_counts_kinds_of_a_thing_in_chinese() -> None:
    stations = "澉浦镇人大设置了交通、工业、农业、旅游、文化等5大民生主题移动联络站。"
    assert answer("澉浦镇人大一共设了多少个民生主题的移动联络站？", stations) == "5大"
    both = "在钢铁、火电等九大行业,澉浦镇615个建设项目开展碳评。"
    assert answer(
        "How many construction projects in Ganpu carried out a carbon assessment?", both
    ) == ("615")
