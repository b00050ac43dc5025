"""Bylines: "■ 叶 慧 梁 威", "孙金良 陈 艳", "本报记者 蒋欣如 通讯员 慕荣雪", "书记 易炼红".

A byline line is a handful of space-separated tokens, each a role word ("本刊记者",
"通讯员"), a job title ("浙江省经信厅党组书记、厅长") or a person's name of two to four
characters. Names set with a space between their characters for alignment ("陈 艳") are
rejoined. Whether a bare list of names really is a byline (and not a short heading) is
decided by the cleaner from context; `name_like` gives it the evidence of a surname.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.text import is_cjk, squeeze


def words(text: str) -> frozenset[str]:
    """A set of space-separated words (keeps long word lists compact and readable)."""
    return frozenset(text.split())


BULLETS = "■□●○◆◇▲△►▶•※★☆"
ROLE_WORDS = words(
    "本刊评论员 本报评论员 本刊特约评论员 本刊记者 本报记者 特约记者 见习记者 实习记者 "
    "记者 通讯员 实习生 评论员 特约撰稿人 撰稿 整理"
)
_ROLE_SUFFIX = re.compile(
    r"(?:书记|厅长|局长|部长|主任|主席|院长|校长|所长|处长|科长|县长|市长|区长|镇长|乡长|"
    r"社长|总编|教授|研究员|会长|董事长|总经理|经理|秘书长|理事长|委员|主编|编辑|记者)$"
)
# Place names ("宁波市", "长兴县") begin with surname characters too.
_PLACE_SUFFIX = frozenset("市县区镇乡村省州街港湾路")
_NOT_IN_BYLINE = frozenset("。！？!?…；;，,")
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余"
    "杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史"
    "陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷"
    "詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳"
    "管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷"
    "晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻"
    "苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花"
    "权强帅屠豆朴盖练廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄"
    "邸雍辜羊阿乌母裘亓修邰赫杭况那宿鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利於呼居揭干"
    "但尉冶斯元束檀衣信展阴昝智幸奉植衡富尧闭由巨郏钮竺泮虎"
)


@dataclass(frozen=True)
class BylineParse:
    names: tuple[str, ...]  # person names, a spaced name's characters rejoined
    roles: tuple[str, ...]  # role words and job titles
    tokens: tuple[str, ...]  # everything in line order, as the byline should be shown
    explicit: bool  # a bullet, a role word, or a name with a job title: surely a byline

    @property
    def text(self) -> str:
        return " ".join(self.tokens)


def parse_byline(line: str) -> BylineParse | None:
    """Parse one line as a byline, or None if it cannot be one."""
    stripped = line.strip()
    core = stripped.lstrip(BULLETS + " \t\u3000")
    if not core or len(squeeze(core)) > 30 or any(c in _NOT_IN_BYLINE for c in core):
        return None
    names: list[str] = []
    roles: list[str] = []
    tokens: list[str] = []
    spelled = ""  # characters of a name spaced for alignment, collected until it is whole
    for token in core.split():
        if spelled and len(token) != 1:
            return None
        if token in ROLE_WORDS or _is_job_title(token):
            roles.append(token)
        elif len(token) == 1 and is_cjk(token):
            spelled += token
            if len(spelled) < 2:
                continue
            token, spelled = spelled, ""
            names.append(token)
        elif len(token) <= 4 and all(is_cjk(c) or c == "·" for c in token):
            names.append(token)
        else:
            return None
        tokens.append(token)
    if spelled or not tokens:
        return None
    explicit = core != stripped or bool(ROLE_WORDS.intersection(roles)) or bool(roles and names)
    return BylineParse(tuple(names), tuple(roles), tuple(tokens), explicit)


# A byline's label for the regional correspondents' network: 「共享联盟·湖州 陆晓芬」.
ALLIANCE = "共享联盟"


def credits(byline: str) -> tuple[tuple[str, str], ...]:
    """Each person a byline names, with the label before them ('' for none): the role
    word, job title or network label that last precedes the name.

    >>> credits("记者 叶诗蕾 共享联盟·湖州 陆晓芬")
    (('记者', '叶诗蕾'), ('共享联盟', '陆晓芬'))
    >>> credits("张霞 云和县崇头镇党委副书记、镇长")
    (('', '张霞'),)
    """
    label, people = "", []
    for token in byline.split():
        if token.startswith(ALLIANCE):
            label = ALLIANCE
        elif token in ROLE_WORDS or _is_job_title(token):
            label = token
        else:
            people.append((label, token))
    return tuple(people)


def name_like(name: str) -> bool:
    """Two to four characters starting with a common surname, not a place name."""
    return 2 <= len(name) <= 4 and name[0] in _SURNAMES and name[-1] not in _PLACE_SUFFIX


def _is_job_title(token: str) -> bool:
    core = token.replace("、", "")
    return len(core) >= 2 and all(is_cjk(c) for c in core) and bool(_ROLE_SUFFIX.search(token))
