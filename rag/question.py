"""Question analysis: what kind of answer a question expects, and what it constrains.

    >>> q = analyse("湖州首次颁发的生态鼎中，哪个县捧获了生态文明冠军鼎？")
    >>> q.type, q.places
    ('place', ('湖州',))

The expected type decides which spans of the retrieved sentences can be the answer; the
constraints (a year, a place, a role, a unit the question names) decide whether a
sentence answers *this* question or a neighbouring one ("2022年" asked, "2023年"
stated). Chinese questions are read through their words and LAC entity tags; English
questions through cue words. Questions of no recognisable type keep type None and are
answered (or refused) on the evidence score alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Literal

from rag.text import Lang, detect_lang, fold

AnswerType = Literal[
    "number",
    "percent",
    "date",
    "rank",
    "place",
    "person",
    "org",
    "title",
    "list",
    "description",
    "reason",
]
TYPED: frozenset[str] = frozenset(
    {"number", "percent", "date", "rank", "place", "person", "org", "title"}
)
MetaField = Literal["issue", "publication", "date", "byline", "dateline", "editor", "photo"]

# What post a person holds: answered by the title before their name (处长艾勇丰).
ASKS_POSITION_ZH = (
    r"(?:担任|任|是)(?:的是)?(?:什么|何种|哪个)(?:职务|职位|身份|头衔)|何职|职务是什么"
)
ASKS_POSITION_EN = (
    # ('Among the world's ports, what position does Zhoushan Port hold?' asks for a rank.)
    r"^(?!.*\b(?:among|rank\w*|largest|biggest|top|ports?|cit(?:y|ies)|provinces?)\b)"
    r".*\bwhat (?:position|post|job|role|title)s? (?:does|did|do|is|was|has|had)\b.{0,60}\b(?:hold|have|serve|occupy)"
    r"|\bwhat (?:is|was) [\w\s-]{2,40}'s? (?:position|post|job|title)\b"
)

# -- Chinese cues, most specific first --------------------------------------------------
_ZH_TYPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "rank",
        re.compile(r"第几|排名第?几|排第|名次|位列第?几|居.{0,6}第几|排在第?几|排名(?:如何|多少)"),
    ),
    (
        "percent",
        re.compile(
            r"百分之几|百分之多少|百分比|多少%|占比|比重|比例|比率|增幅|增速|降幅|增长率|"
            r"(?<!汇)率(?:是|为|达到?|有)?(?:多少|多大|几)|"
            r"(?:增长|提高|提升|下降|降低|减少|增加|上涨|上升|下滑|回落|涨|降)了?(?:多少|几)"
            r"(?![\u4e00-\u9fff]{0,2}(?:元|人|个|家|吨|亩|项|倍|天|年|万|亿|次|名|位))"
        ),
    ),
    (
        "date",
        re.compile(
            r"哪一?年|何年|哪[一几]?天|几月|几号|哪个月|什么时候|何时|什么时间|哪一?日|日期|几日|"
            r"哪个时间|多少年(?:前|后)?开始|始于|于何"
        ),
    ),
    (
        "person",
        re.compile(
            r"谁|哪位|何人|什么人|哪个人|叫什么名字|姓名|[人员长者师记理任手官家](?:叫什么|是哪)"
        ),
    ),
    (
        "org",
        re.compile(
            r"(?:哪|什么|何)(?:一)?(?:家|个|所)?[\u4e00-\u9fff]{0,4}?(?:公司|企业|机构|单位|部门|银行|学校|大学|学院|"
            r"医院|集团|协会|组织|院校|研究院|平台企业|媒体|报社|团队|高校)"
            r"|由(?:哪|什么).{0,4}(?:主办|承办|牵头|发布|颁发|评选|指导)"
        ),
    ),
    (
        "place",
        re.compile(
            r"(?:哪|什么)(?:一)?(?:个|座)?(?:县|市|区|镇|乡|村|省|地区|地方|城市|国家(?!级)|街道|县市|"
            r"区县|县区|园区|地|里|儿)|在哪|何地|何处|何方"
        ),
    ),
    (
        "title",
        re.compile(
            r"(?:什么(?!样)|哪个|哪项|哪一项|何种|哪条|哪部|哪款)[\u4e00-\u9fff]{0,4}?(?:奖|奖项|称号|荣誉|项目|工程|计划|政策|活动|品牌|名称|"
            r"产品|平台|系统|会议|赛事|展会|标准|理念|模式|口号|主题|名号|名字|名|功能|应用|机制|制度|规矩|"
            r"条例|法规|方案|行动|栏目|节目|船|游船|app|App|APP|小程序|典籍|古籍|文献|著作|作品|书籍|书(?!记)|"
            r"小说|电影|影片|纪录片|剧目|诗|歌曲|刊物|杂志|期刊|报纸|文件|法律)"
            r"|叫什么|名称是|称为什么|被(?:评为|命名为|授予)什么|获得了?什么|(?:荣获|获评|入选)了?(?:什么|哪)"
            r"|" + ASKS_POSITION_ZH
        ),
    ),
    ("list", re.compile(r"哪些|哪几|分别是|分别为|包括什么|有什么")),
    (
        "reason",
        re.compile(
            r"为什么|为何|什么原因|原因是|如何|怎样|怎么|通过什么|采取了?什么|靠什么|什么方式|什么办法|什么措施"
        ),
    ),
    (
        "number",
        re.compile(
            r"多少|几(?:个|家|位|名|项|人|次|年|天|倍|条|台|所|座|种|批|亩|吨|期|户|辆|本|处|场|轮|届|级)|多大|多长|多高|多远|多久|多重|几成"
        ),
    ),
    (
        "description",
        re.compile(r"是什么|什么是|什么样|指什么|主要内容|有何|什么意义|什么作用|什么特点|介绍"),
    ),
)

# -- English cues ---------------------------------------------------------------------
# Nouns of a person an English 'which …' question may be headed by.
_PERSON_NOUN = (
    r"(?:mayor|governor|secretary|chair(?:man|woman|person)?|director|president|founder|manager"
    r"|principal|dean|head|leader|chief|official|officer|expert|reporter|journalist|editor"
    r"|author|writer|worker|master|craftsman|craftsmen|artisan|engineer|technician|scientist"
    r"|researcher|scholar|professor|academician|teacher|doctor|nurse|farmer|entrepreneur"
    r"|businessman|businesswoman|boss|owner|athlete|player|champion|winner|designer|artist"
    r"|inheritor|volunteer|villager|resident|student|deputy|representative|delegate|person"
    r"|figure|hero|mentor|coach|chef|captain|driver|police(?:man|woman)?|judge|lawyer"
    r"|commander|minister|ceo)"
)
# Nouns of an organisation an English 'which …' question may be headed by.
_ORG_NOUN = (
    r"(?:archive|museum|library|bureau|office|committee|council|commission|federation|union"
    r"|institute|academy|laborator(?:y|ie)|lab|cent(?:er|re)|government|court|procuratorate"
    r"|administration|ministry|team|club|cooperative|co-op|factory|manufacturer|maker"
    r"|supplier|operator|developer|investor|insurer|carrier|airline|publisher|broadcaster"
    r"|hotel|restaurant|shop|store|school|hospital|university|college|company|enterprise"
    r"|firm|bank|agency|association|department|body|group|organi[sz]ation|institution)"
)
# Up to four words before the head, none a verb or a function word ('Which company did the
# mayor visit' is headed by 'company').
_MODIFIERS = (
    r"(?:(?!(?:the|a|an|did|does|do|is|was|are|were|has|have|had|will|can|could|would|of|in"
    r"|on|at|to|for|from|by|and|with)\b)[\w'’-]+\s+){0,4}?"
)
# What follows a head noun: a preposition, a verb or the end ('What worker training
# programme' is headed by 'programme').
_AFTER_HEAD = (
    r"(?=\s+(?:of|in|at|from|for|on|who|that|whose|has|have|had|is|was|did|does|do|will|can"
    r"|[a-z]+ed|spoke|gave|won|made|led|took|became|built|wrote|said|told|ran|set|sent|brought"
    r"|came|went|leads|heads|runs)\b|\s*[?,])"
)
_EN_TYPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("title", re.compile(ASKS_POSITION_EN, re.I)),  # 'What position does X hold?': no rank
    (
        "rank",
        re.compile(
            r"\bwhat (?:rank|position|place)\b|\brank(?:ed|ing|s)?\b|\bwhich place\b.*\brank"
            r"|\bwhere (?:did|does|do|will)\b.{0,80}\b(?:finish|rank|place|come|stand)\b"
            # 'Jiaxing became which city in Zhejiang to pass…': the subject is given, its
            # place in the order is asked (全省第二个).
            r"|\b(?:became|becomes|become|is|was) which\b.{0,60}\bto\b",
            re.I,
        ),
    ),
    (
        "percent",
        re.compile(
            r"\bpercent(?:age)?\b|\bwhat share\b|\bproportion\b|\b(?:growth|interest|tax|\w+ment) rate\b"
            r"|\bby how much\b|\bhow fast\b|%|\br&d (?:spending |expenditure |investment )?intensity\b",
            re.I,
        ),
    ),
    (
        "date",
        re.compile(
            r"\bwhen\b|\bwhat (?:year|date|day|month|time)\b|\bwhich (?:year|date|day|month)\b|\bin what year\b|\bon what date\b",
            re.I,
        ),
    ),
    (
        "person",
        re.compile(
            r"\bwho\b|\bwhom\b|\bwhose\b|\bwhich (?:person|official|leader|expert|reporter)\b|\bname of the (?:person|official|reporter|author)\b"
            # 'What is the name of Longgang's mayor?': the name of a role is a person's.
            r"|\bname of (?:the |its |[\w-]+'s )?(?:[\w-]+ )?(?:mayor|governor|secretary|chairman|chairwoman|director|president|founder|manager|principal|dean|head|leader|chief)\b"
            # 'Which Longgang vice mayor spoke…', 'Which senior HR manager of…': a noun of a
            # person heads the phrase the question word opens.
            rf"|\b(?:which|what)\s+{_MODIFIERS}{_PERSON_NOUN}s?\b{_AFTER_HEAD}",
            re.I,
        ),
    ),
    (
        "org",
        re.compile(
            r"\bwhich (?:[\w-]+ )?(?:company|companies|enterprise|firm|organi[sz]ation|institution|bank|university|college|school|hospital|group|agency|association|department|body|media|newspaper)\b|\bwhat (?:company|enterprise|firm|organi[sz]ation|institution|bank|agency)\b"
            # 'Which archive was the only…', 'Which county procuratorate…': an
            # institution's noun heads the phrase (one: 'which three teams' asks for a list).
            rf"|\b(?:which|what)\s+{_MODIFIERS}{_ORG_NOUN}\b{_AFTER_HEAD}",
            re.I,
        ),
    ),
    (
        "place",
        re.compile(
            r"\bwhere\b|\bwhich (?:county|city|district|subdistrict|town|township|village|community|province|country|region|place|area|park)\b|\bin what (?:county|city|district|subdistrict|town|township|village|community|place)\b",
            re.I,
        ),
    ),
    (
        "title",
        re.compile(
            r"\bwhat (?:is|was|are|were) the name of the\b|\bwhat (?:[\w-]+ )?(?:award|title|honou?r|prize|programme|program|project|name|brand|plan|policy|event|platform|slogan|theme)\b|\bwhich (?:[\w-]+ )?(?:award|title|honou?r|prize|programme|program|project|brand|event|platform)\b|\bcalled\b|\bnamed\b",
            re.I,
        ),
    ),
    (
        "list",
        re.compile(
            r"\bwhich (?:\w+ )?(?:ones|counties|cities|districts|towns|areas|fields|sectors|industries|items)\b|\bwhat are the\b|\blist\b|\bname the\b",
            re.I,
        ),
    ),
    (
        "reason",
        re.compile(
            r"\bwhy\b|\bhow (?:did|does|do|can|could|will|is|are|was|were|has|have)\b|\bin what way\b|\bby what means\b|\bwhat measures\b",
            re.I,
        ),
    ),
    (
        "number",
        re.compile(
            r"\bhow (?:many|much|long|big|large|far|high)\b|\bwhat (?:(?:was|is|were|are|will be) )?(?:the )?(?:[\w'-]+ ){0,5}(?:number|amount|total|value|volume|size|area|output|revenue|figure|investment|balance|capacity|scale|turnover|income|budget|population|length|height|distance|price|cost|fee|salary|wage|rent|subsidy|gdp|profit|sales)\b",
            re.I,
        ),
    ),
    (
        "description",
        re.compile(r"^\s*what (?:is|was|are|were|does)\b|\bdescribe\b|\bwhat does .* mean\b", re.I),
    ),
)

# Words naming the publication itself (本期, 这本杂志, 《今日浙江》, this issue).
_PUBLICATION_ZH = r"杂志|期刊|刊物|本刊|本期|这期|这一期|该期|今日浙江|报社|编辑部"
_PUBLICATION_EN = (
    r"\bmagazine\b|\bjournal\b|\bissue\b|\bpublication\b|zhejiang today|jinri zhejiang"
)
# Words that say which detail of the publication a question asks about.
_ZH_META = (
    ("issue", re.compile(r"第几期|哪一?期|总第几|期号")),
    ("editor", re.compile(r"责任编辑|(?<![总主])编辑(?:是谁|有谁|有哪|叫什么|是哪)")),
    # The masthead's other staff: of the publication, not a 合作社's 社长.
    ("editor", re.compile(r"封面.{0,6}设计|设计.{0,4}封面|版面设计|美术编辑|美编")),
    ("editor", re.compile(rf"(?:{_PUBLICATION_ZH}).{{0,12}}(?:副?社长|副?总编辑?|主编)")),
    (
        "photo",
        re.compile(
            r"供图|供的图|配图|(?:图片|照片|图)(?:是|由)?.{0,4}(?:谁|哪).{0,6}(?:提供|拍|摄)"
            r"|谁(?:拍|摄)的|(?:摄影|拍摄)(?:者|师)?是谁"
        ),
    ),
    (
        "publication",
        re.compile(
            r"哪(?:份|家|个)?(?:报纸|刊物|杂志|媒体|报刊)|什么(?:报纸|刊物|杂志)|刊登在|发表在|刊名"
        ),
    ),
    (
        "byline",
        re.compile(
            r"(?:记者|作者|通讯员|撰稿|摄影|撰写).{0,3}(?:是谁|有谁|哪位|叫什么)|谁(?:写|撰写|采写|报道|拍摄)"
            r"|哪(?:一)?(?:位|个|名|几位)(?:记者|作者|通讯员)"
        ),
    ),
    ("dateline", re.compile(r"(?:电头|发自|从哪.{0,2}发|在哪里?发(?:出|稿))")),
)
_EN_META = (
    ("editor", re.compile(r"\b(?:responsible |duty )?editors?\b(?!-in-chief| in chief)", re.I)),
    (
        "editor",
        re.compile(
            r"\b(?:designed|design(?:er)?s?)\b.*\b(?:cover|layout)\b|\b(?:cover|layout) design",
            re.I,
        ),
    ),
    (
        "editor",
        re.compile(
            rf"\b(?:publisher|president|editor[- ]in[- ]chief|chief editor)\b.*(?:{_PUBLICATION_EN})",
            re.I,
        ),
    ),
    (
        "photo",
        re.compile(
            r"\b(?:photo|photograph|picture|image)s?\b.*\b(?:provid|took|taken|credit|suppl)"
            r"|\b(?:provid|took|credit|suppl)\w*\b.*\b(?:photo|photograph|picture|image)s?\b",
            re.I,
        ),
    ),
    (
        "issue",
        re.compile(
            r"\bwhich issue\b|\bissue number\b|\bwhat issue\b|\bcumulative\b.*\bissue\b", re.I
        ),
    ),
    (
        "publication",
        re.compile(
            r"\bwhich (?:publication|newspaper|magazine|journal|paper)\b|\bpublished in\b|\bname of the (?:magazine|newspaper)\b",
            re.I,
        ),
    ),
    (
        "byline",
        re.compile(
            r"\bwho (?:wrote|reported|authored|photographed)\b|\bauthor\b|\breporters?\b|\bbyline\b|\bcorrespondent\b",
            re.I,
        ),
    ),
    ("dateline", re.compile(r"\bdateline\b|\bfiled from\b", re.I)),
)

# An English part that names what it counts ('and how many cameras does each carry?'),
# not one that leaves it to the first part ('and how many have the county's?').
_NAMES_COUNTED = re.compile(
    r"\s*(?:and\s+)?how\s+many\s+(?!(?:do|does|did|are|were|is|was|has|have|had|will|can|could"
    r"|of|in|there)\b)[a-z]",
    re.I,
)
_YEAR_ZH = re.compile(r"(?<!\d)((?:19|20)\d{2})(?:年|-|/)")
_YEAR_EN = re.compile(r"\b((?:19|20)\d{2})\b")
# Roles whose holder a question may ask for; a sentence naming another role does not answer.
ROLES_ZH = (
    "董事长", "总经理", "副总经理", "总裁", "创始人", "负责人", "党委书记", "书记", "副书记",
    "市长", "副市长", "县长", "副县长", "区长", "副区长", "省长", "副省长", "镇长", "村长",
    "主任", "副主任", "局长", "副局长", "厅长", "院长", "副院长", "校长", "主席", "副主席",
    "会长", "秘书长", "总编", "社长", "主编", "责任编辑", "记者", "通讯员", "总工程师", "厂长", "站长",
    "队长", "理事长", "首席", "教授", "博士",
)  # fmt: skip
# An English role may be any of several Chinese titles ('director': 主任, 总监, 局长…).
ROLES_EN = {
    "chairman": "董事长|主席|会长|理事长", "chairwoman": "董事长|主席|会长|理事长",
    "chair": "董事长|主席|会长", "general manager": "总经理", "ceo": "总经理|总裁|首席执行官",
    "president": "总裁|院长|校长|会长|主席", "founder": "创始人", "mayor": "市长",
    "vice mayor": "副市长", "deputy mayor": "副市长", "county head": "县长", "governor": "省长",
    "party secretary": "书记", "secretary": "书记|秘书长",
    "director": "主任|总监|局长|所长|处长|院长|主管|厅长", "dean": "院长",
    "principal": "校长", "editor-in-chief": "总编|主编", "publisher": "社长",
    "head": "负责人|局长|主任|站长|所长|院长|处长|书记|部长|馆长|校长|厂长|科长|行长|团长", "manager": "经理",
}  # fmt: skip
_ZH_UNIT = re.compile(
    r"(?:多少|几)(万亿元|亿元|万元|元|万亿|亿|万|钱|个|位|家|人次|人|名|项|卷|件|亩|公顷|吨|次|"
    r"平方公里|平方米|公里|千米|米|天|年|倍|户|所|座|条|台|期|块|辆|艘|本|种|批|级|场|处|轮|届|株|棵|只|头|套|间|栋|张|部|篇|首|支|箱|千瓦|瓦|度|立方米|起|例|宗|份|架|枚|门|层)"
)
# Units of measure, which 'how many' may count too ('how many tonnes of fuel').
_EN_UNITS_OF_MEASURE = (
    (re.compile(r"\btonn?es?\b|\btons\b", re.I), "吨"),
    (re.compile(r"\bmu\b", re.I), "亩"),
    (re.compile(r"\bhectares?\b", re.I), "公顷"),
    (re.compile(r"\b(?:km|kilomet(?:er|re)s?)\b", re.I), "公里"),
    (re.compile(r"\bsquare met(?:er|re)s?\b", re.I), "平方米"),
)  # fmt: skip
# Units an English question names wherever it names them (a price is in yuan).
_EN_MEASURES = (
    (re.compile(r"\b(?:yuan|rmb|renminbi|cost|price|paid|pays?|fees?|invest\w*|fund\w*|revenue|output value|sales|turnover|worth|balance|loans?|deposits?|budget|spending|expenditure|financing|gdp|added value|value added|income|earn(?:s|ed|ings)?|profits?|salary|salaries|wages?|rent|subsid(?:y|ies))\b", re.I), "元"),
    *_EN_UNITS_OF_MEASURE,
    (re.compile(r"\bpopulation\b|\b(?:people|residents) (?:in total )?live\b", re.I), "人"),
    (re.compile(r"\bhow far\b|\bdistance\b|\brange\b|\bon a single charge\b|\bon one charge\b", re.I), "公里|千米|米"),
    (re.compile(r"\blength\b|\bhow long (?:is|was|are|were) (?:the )?[\w\s'-]{0,40}?\b(?:road|bridge|railway|line|river|tunnel|coastline|track|pipeline|route|greenway|trail|canal|highway|expressway)s?\b", re.I), "公里|千米|米"),
    (re.compile(r"\belectricity\b|\bpower generat|\bgenerate\b|\bkwh\b|\bkilowatt", re.I), "千瓦时|度|瓦"),
    # 'How long is the walkway': a length or a time, whichever its thing has.
    (re.compile(r"\bhow long (?:is|are)\b(?!.*\b(?:take|took|last|lasted)\b)", re.I), "公里|千米|米|年|月|天|日|周|小时|分钟|秒"),
    (re.compile(r"\bhow long\b", re.I), "年|月|天|日|周|小时|分钟|秒"),
)  # fmt: skip
# 'How many stations': a count of things, in whatever measure word, but not an amount of
# money, a span of time, a share or a measure of size (4个月 and 40万元 count no stations).
COUNT = r"^(?!.*(?:元|%|％|个月|月|年|天|日|小时|分钟|秒|岁|周|亩|吨|公里|千米|米|平方米|公顷)$)"
# '多少村民' counts, '多少蒸汽' weighs (11吨): neither is money, time or a length.
_ZH_COUNT = r"^(?!.*(?:元|%|％|个月|月|年|天|日|小时|分钟|秒|岁|周|公里|千米|米|平方米|亩|公顷)$)"
_ZH_HOW_MANY_NOUN = re.compile(r"多少([\u4e00-\u9fff]{2,4})")
_ZH_MONEY_NOUN = re.compile(
    r"钱|费|资金|金额|经费|收入|投资|成本|价|税|利润|营收|补贴|补助|奖励|奖金|贷款|存款|工资|薪"
)
# A noun of people ('游客', '村民', '员工', '志愿者', '人才'): its count comes in 人/名/位.
_ZH_PEOPLE_NOUN = re.compile(
    r"人|[\u4e00-\u9fff]{1,2}(?:客|民|员|工|生|手|者|才|师|众)(?![\u4e00-\u9fff]*(?:数|量|率))"
)


def names_people(word: str) -> bool:
    """A noun of people or of a person ('选手', '村民', '历史人物', '负责人') or the word
    for a name ('名字'): it says who is asked for, not what they did."""
    return (
        bool(_ZH_PEOPLE_NOUN.fullmatch(word))
        or word.endswith(("人", "人物"))
        or word in ("名字", "姓名", "名称", "全名", "称呼")
    )


_ZH_MEASURE_NOUN = re.compile(
    r"时|天|年|月|周|面积|距离|长度|高度|重量|产量|亩|电|水|度|岁|年龄|倍|比|分"
)
# Units of what 'how many …' or 'the number of …' counts: the head noun of that phrase
# ('how many large and medium-sized companies' -> 家), not a noun elsewhere in the question
# ('HR staff from how many companies' counts companies, not staff).
_EN_COUNTS = (
    (re.compile(r"\b(?:people|persons|residents|workers|employees|visitors|tourists|students|staff|talents?|graduates|members|volunteers|farmers|migrants)\b", re.I), "人|名|位"),
    (re.compile(r"\b(?:compan(?:y|ies)|enterprises?|firms?|businesses|entities)\b", re.I), "家"),
    (re.compile(r"\b(?:households|families)\b", re.I), "户"),
    (re.compile(r"\bteams\b", re.I), "支|个"),
    (re.compile(r"\b(?:vehicles|cars|buses|trucks)\b", re.I), "辆|台"),
    (re.compile(r"\b(?:ships|vessels|boats)\b", re.I), "艘|条"),
    (re.compile(r"\bdays\b", re.I), "天"),
    (re.compile(r"\bhours\b", re.I), "小时"),
    (re.compile(r"\bweeks\b", re.I), "周"),
    (re.compile(r"\byuan\b", re.I), "元"),
    (re.compile(r"\bmonths\b", re.I), "月"),
    (re.compile(r"\byears\b", re.I), "年"),
    (re.compile(r"\btimes\b", re.I), "倍|次"),
)  # fmt: skip
_COUNTED = re.compile(
    r"\b(?:how many|number of)\s+((?:[\w'-]+\s+){0,6}?[\w'-]+?)"
    r"(?=\s+(?:did|does|do|has|have|had|were|was|are|is|will|would|can|could|in|at|of|from|to|for|on|by|with|under|across|that|which)\b|[\s,?.;]*$|\s*[,?;])",
    re.I,
)
# A ratio asked for: 城乡居民收入比是多少, 'the urban-rural income ratio'.
_ASKS_RATIO = re.compile(
    r"[\u4e00-\u9fff]比值?(?:是|为|达到?|缩小[到至]|降至|降到)?(?:多少|几)|\bratio\b", re.I
)
UNIT_ALIASES = {
    "钱": "元", "人": "人|名", "名": "人|名", "万亿": "万亿元|万亿", "亿": "亿元|亿",
    "万": "万", "千米": "千米|公里", "公里": "公里|千米", "个": "个|项|家|所|座|处",
    "项": "项|个", "家": "家|个",
}  # fmt: skip
_COMPARISON_ZH = re.compile(
    r"最(?:高|低|大|小|多|少|早|晚|快|先)|首次|首个|第一个|唯一|同比|环比|比.{1,8}(?:多|少|高|低)"
)
_COMPARISON_EN = re.compile(r"\b(?:most|least|highest|lowest|largest|smallest|first|only|compared)\b", re.I)  # fmt: skip


@dataclass(frozen=True)
class Question:
    text: str
    lang: Lang
    type: AnswerType | None
    unit: str | None = None  # regex of the unit a number should come in ("亿元|亿")
    years: tuple[str, ...] = ()  # years the question names ("2022")
    places: tuple[str, ...] = ()  # places the question names (zh only: LAC LOC words)
    roles: tuple[str, ...] = ()  # roles whose holder is asked for, in Chinese ("董事长")
    # Persons/orgs/works the question names; for an English question, the Chinese forms of
    # a name the dictionary knows, joined by "|" ("澳大利亚|澳洲").
    entities: tuple[str, ...] = ()
    comparison: bool = False  # asks for the most/first/only one
    meta: MetaField | None = None  # asks about the publication itself
    keywords: tuple[str, ...] = ()  # Chinese keywords of an English question (rag.translate)
    # The words right before and after the question word ('总投资' in 总投资是多少,
    # '捧获' in 哪个县捧获了…): what is asked about; the answer's sentence must state it.
    focus: tuple[str, ...] = ()
    scope: str | None = None  # 全国/全省/全市… of a rank question
    # What a figure must measure (rag.attribute): '总投资' of 总投资是多少, '投' of 投了多少钱.
    attribute: tuple[str, ...] = ()
    # What an English question's figure measures, as alternatives ("人口|常住|户籍" of
    # 'population') its sentence or a neighbour states, one group per measure named.
    measure_words: tuple[str, ...] = ()
    parts: tuple[Question, ...] = field(default=())  # two-part questions: each part
    # An English question whose dictionary words the articles never use (rag.translate):
    # nothing in them is about it.
    unmatched: bool = False
    # The Chinese words of what an English "What is the X of Y?" asks about ('capital' ->
    # "首都|省会|…", rag.translate.asked_thing): an answer's passage states one of them.
    thing: str | None = None
    # The editions the question names ('第四届' / 'the 4th China Quality Conference' ->
    # "4"): a sentence of another edition (第五届) does not answer.
    editions: tuple[str, ...] = ()
    # The grades of scenic area the question names ('国家4A级' -> "4"): a sentence of another
    # grade (5A) does not answer.
    grades: tuple[str, ...] = ()

    @property
    def typed(self) -> bool:
        return self.type in TYPED


_QUOTED_NAME = re.compile(
    r"“[^“”]{1,60}”|\"[^\"]{1,60}\"|‘[^‘’]{1,60}’|《[^《》]{1,60}》|「[^「」]{1,60}」"
    r"|(?<![A-Za-z])'[^']{2,60}'(?![A-Za-z])"
)


def expected_type(text: str, lang: Lang) -> AnswerType | None:
    cues = _ZH_TYPES if lang == "zh" else _EN_TYPES
    # A quoted name asks nothing: 'the "start a business when you want" stations' is no
    # 'when' question, 「“为什么建工匠学院”一节」 no 为什么 one.
    text = _QUOTED_NAME.sub(" X ", text)
    for name, pattern in cues:
        if pattern.search(text):
            return name  # type: ignore[return-value]
    return None


def asked_meta(text: str, lang: Lang) -> MetaField | None:
    for name, pattern in _ZH_META if lang == "zh" else _EN_META:
        if pattern.search(text):
            return name  # type: ignore[return-value]
    return None


_ZH_PLACE_LEVEL = re.compile(
    r"哪(?:一)?(?:个|座)?(县市区|区县|县区|县级市|县|市|区|镇|乡|村|省|街道)"
)
_ZH_ORG_KIND = re.compile(
    r"(?:哪|什么)(?:一)?(?:家|个|所)?[\u4e00-\u9fff]{0,4}?(公司|企业|银行|大学|学院|医院|集团|协会|学校|研究院)"
)
_EN_PLACE_LEVEL = {
    "county": "县",
    "city": "市",
    "district": "区",
    "town": "镇",
    "township": "乡",
    "village": "村",
    "province": "省",
    "subdistrict": "街道",
    "community": "社区",
}


# '多重', '多远', '多高', '多久': the measure asked for, and the units it comes in.
_ZH_HOW_MEASURED = (
    (re.compile(r"多重|多沉"), "吨|公斤|千克|斤|克"),
    (re.compile(r"多远"), "公里|千米|米"),
    (re.compile(r"多高"), "米"),
    (re.compile(r"多久|多长时间"), "年|月|天|日|周|小时|分钟|秒"),
    (re.compile(r"多长"), "公里|千米|米|年|月|天|日|周|小时|分钟|秒"),
)


def asked_unit(text: str, lang: Lang, qtype: AnswerType | None) -> str | None:
    if qtype == "percent":
        return "%|％|个百分点|成"
    if qtype == "place":
        if lang == "zh":
            m = _ZH_PLACE_LEVEL.search(text.replace("县级市", "市").replace("城市", "市"))
            return (
                "|".join(m.group(1)) if m and len(m.group(1)) > 1 else (m.group(1) if m else None)
            )
        m2 = re.search(
            r"\b(?:which|what) (county|city|district|town|township|village|province|subdistrict|community)\b",
            re.sub(r"county-level city", "city", text, flags=re.I),  # a 县级市 is a 市
            re.I,
        )
        return _EN_PLACE_LEVEL[m2.group(1).lower()] if m2 else None
    if qtype == "org" and lang == "zh":
        m = _ZH_ORG_KIND.search(text)
        return m.group(1) if m else None
    if qtype == "number" and _ASKS_RATIO.search(text):
        return "[:∶]"  # '收入比是多少' is answered by 1.53:1
    if lang == "zh":
        m = _ZH_UNIT.search(text)
        if m:
            return UNIT_ALIASES.get(m.group(1), m.group(1))
        measured = next((u for pattern, u in _ZH_HOW_MEASURED if pattern.search(text)), None)
        if measured and qtype == "number":
            return measured  # '每辆能装载多重的快递': a weight, not 5辆
        m = _ZH_HOW_MANY_NOUN.search(text)
        if m and qtype == "number":
            # '多少费用' is money; '多少村民' a count or '多少蒸汽' an amount (not 308米);
            # '多少时间', '多少面积' are measured in units the question does not name.
            noun = m.group(1)
            if _ZH_MONEY_NOUN.search(noun):
                return "元"
            if _ZH_PEOPLE_NOUN.match(noun):
                return "人|名|位"  # '多少游客' counts people: 第18个年头 counts none
            return None if _ZH_MEASURE_NOUN.match(noun) else _ZH_COUNT
        return None
    if qtype != "number":
        return None
    counted = _COUNTED.search(text)
    if counted:
        # 'how many foreign-invested entities' counts entities, not yuan.
        phrase = counted.group(1)
        units = (*_EN_COUNTS, *_EN_UNITS_OF_MEASURE)
        found = [(m.end(), unit) for pattern, unit in units for m in pattern.finditer(phrase)]
        return max(found)[1] if found else COUNT

    return next((unit for pattern, unit in _EN_MEASURES if pattern.search(text)), None)


def asked_roles(text: str, lang: Lang) -> tuple[str, ...]:
    if lang == "zh":
        found = [r for r in ROLES_ZH if r in text]
        # '副市长' also contains '市长': keep the most specific.
        return tuple(r for r in found if not any(r != o and r in o for o in found))
    lower = text.lower()
    found = [
        zh
        for en, alternatives in ROLES_EN.items()
        if re.search(rf"\b{re.escape(en)}s?\b", lower)  # 'Who heads…'
        for zh in alternatives.split("|")
    ]
    return tuple(dict.fromkeys(r for r in found if not any(r != o and r in o for o in found)))


_EN_AND_ASK = re.compile(
    r",?\s+and\s+(?=(?:how|what|when|where|which|who|why|from what|in what)\b)", re.I
)


def split_parts(text: str) -> list[str]:
    """The sub-questions of a two-part question ('…多少个？…是多少？'), else [text]."""
    body = text.strip()
    pieces = [p.strip() for p in re.split(r"(?<=[？?])\s*|[；;]\s*", body) if p.strip()]
    if len(pieces) == 1 and body.isascii():
        # 'What was the value in 2023, and how fast did it grow?': a second question word.
        pieces = [p.strip() for p in _EN_AND_ASK.split(body) if p and p.strip()]
    pieces = [p for p in pieces if len(re.sub(r"[\W_]", "", p)) >= 4]
    return pieces if len(pieces) >= 2 else [text]


@lru_cache(maxsize=1024)
def analyse(text: str) -> Question:
    """Analyse a question (cached: the reading stage asks more than once per question)."""
    return _analyse(text)


def _analyse(text: str, tokens: tuple[tuple[int, int, str], ...] | None = None) -> Question:
    parts = split_parts(text)
    if len(parts) > 1:
        whole = _analyse_one(text, tokens)
        # '到2022年底…有多少技能人才?其中高技能人才占多少比例?': a part that names no year
        # is of the year the question names (not 2025's target share).
        sub = tuple(
            q if q.years else replace(q, years=whole.years)
            for q in (_analyse_one(p, None) for p in parts)
        )
        # '…how many enterprises have the city's leaders visited, and how many have the
        # county's?': a count that names nothing counts what the first part counts.
        first = sub[0]

        def counted(q: Question) -> Question:
            unnamed = q.type == first.type == "number" and q.unit in (None, COUNT)
            unnamed = unnamed and not _NAMES_COUNTED.match(q.text)  # 'how many cameras'
            return replace(q, unit=first.unit) if unnamed and first.unit not in (None, COUNT) else q

        sub = (first, *map(counted, sub[1:]))
        return replace(whole, type=first.type, parts=sub)
    return _analyse_one(text, tokens)


def _common_word(word: str) -> bool:
    """A word the tagger took for a name that the dictionary glosses as a common word
    ('张罗', to arrange): names of people are not in it, or are glossed by a name."""
    from rag import translate

    return bool(translate.gloss_words(word)) and translate.english_name(word) is None


def _analyse_one(text: str, tokens: tuple[tuple[int, int, str], ...] | None) -> Question:
    lang = detect_lang(text)
    folded = fold(text)
    qtype = expected_type(folded, lang)
    meta = asked_meta(folded, lang)
    years = tuple(dict.fromkeys((_YEAR_ZH if lang == "zh" else _YEAR_EN).findall(folded)))
    if lang == "en":
        years = tuple(dict.fromkeys(_YEAR_EN.findall(folded)))
    places: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    toks: tuple[tuple[int, int, str], ...] = ()
    if lang == "zh":
        from rag import tagger

        toks = tokens if tokens is not None else tagger.tag(text)
        places = tuple(dict.fromkeys(text[a:b] for a, b, t in toks if t == "LOC"))
        if qtype == "place":
            # '绍兴哪个区': 绍兴 holds the answer (柯桥区); the sentence need not name it.
            places = tuple(p for p in places if not re.search(re.escape(p) + r"的?哪", text))
        entities = tuple(
            dict.fromkeys(
                text[a:b]
                for a, b, t in toks
                if t in ("PER", "ORG", "nw", "nz")
                and not (t in ("PER", "nz") and _common_word(text[a:b]))
            )
        )
    comparison = bool((_COMPARISON_ZH if lang == "zh" else _COMPARISON_EN).search(folded))
    scope = None
    if qtype == "rank":
        m = re.search(r"全国|全省|全市|全球|世界|全区|全县|省内|国内", folded)
        scope = m.group() if m else None
        if lang == "en":
            m = _EN_SCOPE.search(folded)
            scope = _EN_SCOPES[m.group(1)] if m else None
    q = Question(
        text=text,
        lang=lang,
        type=qtype,
        unit=asked_unit(folded, lang, qtype),
        years=years,
        places=places,
        roles=asked_roles(folded, lang) if qtype == "person" or meta == "byline" else (),
        entities=entities,
        comparison=comparison,
        meta=meta,
        focus=focus_words(folded) if lang == "zh" else (),
        scope=scope,
        attribute=_attribute(text, toks) if lang == "zh" and qtype in _MEASURED else (),
        measure_words=_measure_words(folded) if lang == "en" and qtype in _MEASURED else (),
        editions=editions(folded if lang == "zh" else text, lang) if qtype != "rank" else (),
        grades=grades(folded),
    )
    if q.type == "number" and lang == "zh" and q.attribute and _RATE.search(q.attribute[0]):
        # '自用率达到多少': a rate is a percentage, whatever the question word.
        q = replace(q, type="percent", unit=asked_unit(folded, lang, "percent"))
    if q.type == "number" and lang == "zh" and q.unit is None and _money(q.attribute):
        q = replace(q, unit="元")  # '总投资是多少': an amount of money
    return q


# What an English figure question measures, and the words Chinese news states it with:
# a figure of another measure (investment for 'GDP', a salary for 'room price') is no
# answer. Only measures whose Chinese words are few and fixed are listed.
_EN_MEASURED = (
    (r"gdp|gross domestic product", "生产总值|gdp"),
    (r"population|(?:people|residents) (?:in total )?live", "人口|常住|户籍"),
    (r"prices?|how much does (?:it|a|an|one|each)\b.{0,30}\bcost", "价|元/|元一|元每"),
    (r"fees?", "费|元/|元一|元每"),
    (r"salar(?:y|ies)|wages?|earn(?:s|ed|ings)?", "工资|薪|收入|月入|年入"),
    (r"rents?", "租"),
    (r"profits?", "利润|盈利|净利"),
    (r"taxe?s?", "税"),
    (r"exports?", "出口|外贸"),
    (r"imports?", "进口|外贸"),
    (r"added value|value added", "增加值"),
    (r"output value", "产值"),
    (r"loans?", "贷|授信|融资"),
    (r"deposits?", "存款|储蓄"),
    (r"budget", "预算"),
    (r"subsid(?:y|ies)", "补贴|补助|奖补|资助|补"),
    (r"interest rate", "利率|利息|息"),
    (r"(?<!-)invest(?:s|ed|ing|ment|ments)?", "投"),  # not 'foreign-invested'
    (r"fiscal revenue", "财政|税"),
    (r"sales|turnover", "销|营收|营业|交易|成交"),
    (r"(?:production |annual )?capacity", "产能|装机|年产|容量|能力"),
    (r"visitors|tourists|tourist arrivals", "游客|客|人次|接待"),
    (r"patents?", "专利"),
    # A share of a whole (占…比重), not a growth ('by what percentage did … fall').
    (
        r"(?:what|which) (?:share|proportion)|(?:what|which) percentage of|account(?:s|ed)? for",
        "占|比重|比例",
    ),
    # A fall asked for is stated as one (下降, 压缩), not as a level or a growth.
    (
        r"by how much did .{0,80}\b(?:fall|fell|drop|dropped|decline|declined|decrease|decreased|cut|reduce|reduced|shrink|shrank|shorten|shortened)\b",
        "下降|减少|降低|压缩|缩短|减|降|少",
    ),
    # Not a measure but the scope statistics give one: 规上工业增加值, not 工业增加值.
    (r"above(?:-| )(?:designated|scale)(?: size)?|above-scale", "规上|规模以上|限上|限额以上"),
)
_EN_MEASURED_RE = tuple((re.compile(rf"\b(?:{p})\b", re.I), words) for p, words in _EN_MEASURED)


_EDITION_ZH = re.compile(r"第([0-9零〇一二两三四五六七八九十百]+)届")
_EN_ORDINALS = ("first second third fourth fifth sixth seventh eighth ninth tenth eleventh "
                "twelfth thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth "
                "nineteenth twentieth").split()  # fmt: skip
# An ordinal right before a named event or 'edition/session': 'the 5th China Quality
# Conference', 'the second National Vocational Skills Competition'.
_EDITION_EN = re.compile(
    r"\b(\d{1,3})(?:st|nd|rd|th)\s+(?=[A-Z]|edition|session)|"
    rf"\b({'|'.join(_EN_ORDINALS)})\s+(?=[A-Z]|edition|session)",
)


_GRADE = re.compile(r"(?<![A-Za-z0-9])([1-5])a(?:级|\b|-level)", re.I)  # 国家5A级, a 4A-level area


def grades(text: str) -> tuple[str, ...]:
    """The grades (国家5A级, a 4A-level area) the text states, as digits."""
    return tuple(dict.fromkeys(_GRADE.findall(text)))


def editions(text: str, lang: Lang) -> tuple[str, ...]:
    """The edition numbers (届) a question names, as digits."""
    from rag.english import to_number

    if lang == "zh":
        found = [to_number(m.group(1)) for m in _EDITION_ZH.finditer(text)]
        return tuple(dict.fromkeys(str(int(n)) for n in found if n))
    out = []
    for m in _EDITION_EN.finditer(text):
        out.append(m.group(1) or str(_EN_ORDINALS.index(m.group(2)) + 1))
    return tuple(dict.fromkeys(out))


def _measure_words(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(words for pattern, words in _EN_MEASURED_RE if pattern.search(text)))


_EN_SCOPE = re.compile(r"\b(national|nationwide|provincial|global|worldwide|citywide)\b")
_EN_SCOPES = {
    "national": "全国", "nationwide": "全国", "provincial": "全省", "global": "全球",
    "worldwide": "全球", "citywide": "全市",
}  # fmt: skip
_MEASURED = frozenset({"number", "percent", "rank"})


def _money(words: tuple[str, ...]) -> bool:
    from rag import attribute

    return attribute.money(words)


_RATE = re.compile(r"(?:率|比重|占比|比例)$")


def _attribute(text: str, tokens: tuple[tuple[int, int, str], ...]) -> tuple[str, ...]:
    # English questions name none: dictionary translations of the English attribute
    # missed too many paraphrases (docs/quality.md).
    from rag import attribute

    return attribute.asked(text, tokens)


_QWORD = re.compile(
    r"多少|几[\u4e00-\u9fff]?|哪[\u4e00-\u9fff]?|谁|什么|何[时地年处人]|怎样|怎么|如何|为什么|为何"
)
_FILLER = frozenset("的 是 了 为 有 在 达到 达 共 一共 总共 累计 分别 目前 现在 中 呢 吗 把 被 给 对 和 与 及 要 将 会 能 可 已 已经 又 还 都 约 大约 之 其 其中 这 那 该 个 位 家 项 年 月 日 天 些 种 次 是否 请问".split())  # fmt: skip


def focus_words(text: str) -> tuple[str, ...]:
    """The content word before and the one after the (first) question word."""
    from rag.text import tokenize

    m = _QWORD.search(text)
    if not m:
        return ()
    before = [t for t in tokenize(text[: m.start()]) if len(t) >= 2 and t not in _FILLER]
    after = [t for t in tokenize(text[m.end() :]) if len(t) >= 2 and t not in _FILLER]
    picked = ([before[-1]] if before else []) + (after[:1] if after else [])
    return tuple(dict.fromkeys(picked))
