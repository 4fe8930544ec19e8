"""Seeded generator for the course's extraction data set: free-text orders (English and Chinese) -> JSON.

Run from the repository root:

    python data/generate.py            # writes data/extraction/{train,validation,test}.jsonl
    python data/generate.py --check    # regenerates in memory and fails if the committed files differ

Only the standard library is used, and the output depends on nothing but ``--seed``: running it again
gives identical bytes. Messages come in four styles (plain sentences, e-mail, chat, form) in both languages.
Every phrasing pool, English and Chinese, and the customer names are cut into three disjoint parts, so
validation and test messages use wordings and names that never appear in training; the catalogue (products,
cities), Chinese surnames and Chinese sentence particles are shared by all splits (``Pools`` and
data/README.md say why). The generator never reads ``extraction/handwritten.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

FIELDS = ("customer", "product", "quantity", "city")
SYSTEM_PROMPT = "Extract the order as JSON: customer, product, quantity, city (null if missing)."
SPLITS = {"train": 2400, "validation": 300, "test": 300}
# Share of Chinese messages per split: the training mix holds more Chinese than the test mix, because the
# embedded model knows little Chinese and learns it from examples (see RATES below for the same idea).
ZH_SHARE = {"train": 0.55, "validation": 0.3, "test": 0.3}
# How often each hard case appears (see the data card). The training split holds more hard cases than
# validation and test: rare cases are learned from examples, and a few-minute run sees only a few hundred;
# the test split keeps the realistic mix.
RATES = {  # split -> rates
    "train": {"missing": 0.3, "correction": 0.12, "number_words": 0.3, "on_behalf": 0.16},
    "validation": {"missing": 0.15, "correction": 0.07, "number_words": 0.15, "on_behalf": 0.08},
    "test": {"missing": 0.15, "correction": 0.07, "number_words": 0.15, "on_behalf": 0.08},
}
# missing: a message does not give one field (customer, quantity or city) -> null; it says so ("address to
# follow", "TBD", "待定") or, a third of the time, silently leaves it out
# correction: the quantity, or the city, is corrected or comes with a distractor (each at this rate)
# number_words: a quantity <= 20 is written in words ("fourteen", "十二", "a dozen")
# on_behalf: the order is placed for someone else, who is the customer ("for my boss, Dana Lee")
#: Message styles and their shares (the same in every split).
STYLES = {"plain": 0.4, "email": 0.2, "chat": 0.22, "form": 0.18}
OUT_DIR = Path(__file__).resolve().parent / "extraction"


def _words(text: str) -> list[str]:
    return text.split()


# fmt: off
# --------------------------------------------------------------------------------------------------
# Entity pools. Name lists are cut 70 / 15 / 15 into train / validation / test from a fixed shuffle
# (``_cut_names``); products, cities and Chinese surnames are shared (see ``Pools``).
# --------------------------------------------------------------------------------------------------
EN_FIRST = _words("""Maria James Olivia Daniel Sophie Liam Emma Noah Grace Lucas Chloe Ethan Hannah Oscar Ruby Adam Ella
Samuel Alice Henry Zoe Isaac Mia Leo Nora Owen Ivy Felix Clara Jack Laura Victor Julia Tom Rosa Ben Anna Paul
Sara Martin Elena Peter Nina David Kate Simon Lucy Hugo Iris Carl Diana Frank Helen Ryan Amber Kevin Tessa
Miles Wendy Caleb Fiona Dylan Gemma Tristan Joanna Elliot Bianca Rupert Yvonne Silas Harriet""")
EN_LAST = _words("""Lopez Smith Chen Brown Garcia Miller Davis Wilson Moore Taylor Anderson Thomas Jackson White Harris
Martin Clark Lewis Walker Young Allen King Wright Scott Green Baker Adams Nelson Hill Campbell Mitchell Roberts
Carter Phillips Evans Turner Torres Parker Collins Edwards Stewart Morris Murphy Cook Rogers Morgan Cooper Reed
Bailey Bell Kelly Howard Ward Cox Richardson Wood Watson Brooks Bennett Gray Hughes Price Sanders Myers Long
Foster Powell Jenkins Perry Russell""")
EN_PRODUCTS = [
    "desk lamp", "USB-C cable", "coffee grinder", "yoga mat", "wireless mouse", "water bottle", "notebook",
    "phone case", "backpack", "bluetooth speaker", "rice cooker", "office chair", "monitor stand", "tea kettle",
    "hiking boots", "umbrella", "power bank", "keyboard", "frying pan", "bath towel", "sunglasses", "wall clock",
    "laptop sleeve", "blender", "running shoes", "pillow", "headphones", "extension cord", "cutting board",
    "picture frame", "flower vase", "printer paper", "desk fan", "webcam", "travel mug", "bike helmet",
    "tennis racket", "gym bag", "winter jacket", "tool kit", "garden hose", "baby monitor", "dog leash",
    "shower curtain", "ceiling light", "wool scarf", "mixing bowl", "paint brush", "board game", "camping tent",
    "air purifier", "door mat", "soup ladle", "ski goggles", "label printer", "sewing kit", "bread knife",
    "chess set", "rain boots", "hand mixer",
]
EN_CITIES = [
    "Denver", "Boston", "Seattle", "Chicago", "Austin", "Portland", "Toronto", "Dublin", "London", "Manchester",
    "Sydney", "Melbourne", "Auckland", "Vancouver", "Atlanta", "Phoenix", "Dallas", "Miami", "Houston", "Detroit",
    "Edinburgh", "Glasgow", "Leeds", "Bristol", "Ottawa", "Calgary", "Perth", "Brisbane", "Singapore", "Madrid",
    "Lisbon", "Berlin", "Munich", "Vienna", "Prague", "Oslo", "Helsinki", "Copenhagen", "Zurich", "Geneva",
    "Nashville", "Cleveland", "Tampa", "Orlando", "Baltimore", "Sacramento", "Pittsburgh", "Cardiff",
    "Adelaide", "Halifax", "Winnipeg", "Milwaukee", "Raleigh", "Omaha", "Tucson", "Reno", "Boise", "Spokane",
    "Savannah", "Anchorage",
]
# More names: many different names teach the model to copy the name the message gives instead of recalling one
# it saw in training. They are appended, and the lists are ordered roughly from common to rare, so names are cut
# from a fixed shuffle (``_cut_names``): a positional cut would give the test split only the rarest names.
EN_FIRST += _words("""Abigail Aaron Beatrice Brandon Camille Cedric Daisy Derek Eleanor Edwin Freya Gavin Georgia Harvey Hazel
Ian Imogen Jasper Jade Keith Leah Lionel Mabel Marcus Naomi Nathan Olive Patrick Phoebe Quentin Rachel Roland
Sienna Stuart Tabitha Theo Ursula Vincent Violet Wesley Willow Xavier Yasmin Zachary Agnes Alfie Bella Callum
Darcy Esme Finn Florence Gilbert Heidi Hector Isla Jonah Juliet Kieran Lola Malcolm Matilda Neil Nell
Orla Percy Poppy Reuben Rosalind Seth Stella Toby Una Vera Warren Winifred Abel Ada Barnaby Beth Conrad Cora
Declan Delia Edgar Edith Fergus Flora Gideon Greta""")
EN_LAST += _words("""Ashford Barker Bishop Blackwell Bradley Burton Caldwell Chambers Chapman Coleman Crawford Dawson Dixon
Douglas Elliott Ellis Fisher Fleming Fletcher Ford Fox Gardner Gibson Gordon Graham Grant Hale Hamilton Hardy
Harper Hayes Henderson Holland Holmes Hunt Jordan Kennedy Knight Lambert Lane Lawson Lloyd Marsh Marshall Mason
Matthews Mills Newton Norris Owens Palmer Pearson Porter Quinn Ramsey Reynolds Rhodes Robertson Rose Saunders
Shaw Simmons Spencer Stone Sutton Thornton Tucker Vaughan Wade Wallace Walsh Warner Webb Wells West Wheeler
Whitaker Willis Winter Wolfe Yates Abbott Barnes Boyd Carlisle Dalton Emerson Fairfax Garrett""")
ZH_SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程魏苏吕丁任沈姚卢")
ZH_GIVEN = _words("""伟 芳 娜 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 秀英 霞 平 刚 桂英 建华 文 华 红 玉兰 晓东 子涵 浩然
雨桐 欣怡 梓轩 思远 佳怡 一鸣 宇航 诗涵 俊杰 晨曦 子豪 梦琪 天宇 嘉欣 志强 海燕 立新 春梅 国庆 婷婷 晓峰
雪梅 振宇 慧敏 家豪 若溪 景行 书瑶 安然 清扬""")
# (product, measure word)
ZH_PRODUCTS = [
    ("台灯", "盏"), ("数据线", "根"), ("咖啡机", "台"), ("瑜伽垫", "张"), ("无线鼠标", "个"), ("保温杯", "个"),
    ("笔记本", "本"), ("手机壳", "个"), ("双肩包", "个"), ("蓝牙音箱", "个"), ("电饭煲", "台"), ("办公椅", "把"),
    ("显示器支架", "个"), ("电水壶", "个"), ("登山鞋", "双"), ("雨伞", "把"), ("充电宝", "个"), ("机械键盘", "个"),
    ("平底锅", "口"), ("浴巾", "条"), ("太阳镜", "副"), ("挂钟", "个"), ("电脑包", "个"), ("榨汁机", "台"),
    ("跑步鞋", "双"), ("枕头", "个"), ("耳机", "副"), ("插线板", "个"), ("砧板", "块"), ("相框", "个"),
    ("花瓶", "个"), ("打印纸", "包"), ("电风扇", "台"), ("摄像头", "个"), ("旅行杯", "个"), ("自行车头盔", "个"),
    ("羽毛球拍", "副"), ("运动包", "个"), ("羽绒服", "件"), ("工具箱", "个"), ("浇花水管", "根"), ("空气净化器", "台"),
    ("门垫", "块"), ("吸顶灯", "盏"), ("羊毛围巾", "条"), ("画笔", "支"), ("桌游", "盒"), ("帐篷", "顶"),
    ("汤勺", "把"), ("滑雪镜", "副"), ("标签打印机", "台"), ("针线包", "个"), ("面包刀", "把"), ("象棋", "副"),
]
ZH_CITIES = _words("""北京 上海 广州 深圳 杭州 南京 成都 重庆 武汉 西安 天津 苏州 长沙 郑州 青岛 厦门 大连 宁波 沈阳 昆明 合肥
福州 济南 哈尔滨 长春 南昌 贵阳 南宁 太原 石家庄 兰州 呼和浩特 银川 西宁 海口 三亚 珠海 佛山 东莞 无锡 常州 温州
绍兴 嘉兴 烟台 洛阳 桂林 丽江 扬州 徐州 泉州 惠州 中山 台州 金华 潍坊 保定 唐山""")

ZH_SURNAMES += list("陆顾孟秦江史钱尹黎易常武乔贺赖龚文庞樊兰殷施陶洪翟安颜倪严牛温芦季俞章鲁葛伍韦申尤毕聂焦向柳邢骆岳齐")
ZH_GIVEN += _words("""子轩 雨涵 浩宇 欣然 梓涵 博文 思琪 宇轩 紫萱 俊熙 一诺 皓轩 语桐 明轩 可馨 睿泽 梦洁 泽宇 雅琪 煜城 晓雯 嘉怡 文博 若曦
佳琪 天佑 诗雨 鹏飞 丽娟 志伟 秀兰 建国 永红 美玲 晓燕 海涛 红梅 国华 丹丹 玉珍 伟东 静怡 少华 家乐 瑞雪 慧琳 嘉豪 子墨 昊天 紫涵 宏伟
琳琳 俊宇 凯文 晓琳 彦博 雨欣 思彤 昕怡 铭泽 梓萱 锦程 奕辰 语嫣 天昊 沐阳 芷若 睿 峰 宁 蕾 鑫 斌 琦 瑶 凯 悦 彬 莉 桐 航 毅 萍 璐 昊
岚 鹏 琴""")


def _unique(items: list) -> list:
    """Drop repeats, keeping the first: a value listed twice could land in two splits."""
    seen: set = set()
    return [x for x in items if not (x in seen or seen.add(x))]


EN_FIRST, EN_LAST, EN_PRODUCTS, EN_CITIES = map(_unique, (EN_FIRST, EN_LAST, EN_PRODUCTS, EN_CITIES))
ZH_SURNAMES, ZH_GIVEN, ZH_PRODUCTS, ZH_CITIES = map(_unique, (ZH_SURNAMES, ZH_GIVEN, ZH_PRODUCTS, ZH_CITIES))

EN_NUMBER_WORDS = _words("""zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen
sixteen seventeen eighteen nineteen twenty""")
ZH_DIGITS = "零一二三四五六七八九"

# Names from many cultures, as customers of an international shop write them (cut like the names above).
EN_FIRST += _words("""Priya Arjun Ravi Ananya Nikhil Deepa Sanjay Meera Mohammed Omar Layla Amir Zainab Hamza Yusuf Noor
Tariq Leila Chidi Ngozi Kwame Amara Kofi Babajide Folake Tunde Zanele Thabo Lerato Wei Mei Jun Hiroshi Sakura Kenji
Haruto Min-jun Ji-woo Seo-yeon Thanh Linh Duc Mateo Sofia Diego Lucia Javier Camila Pablo Ingrid Lars Sven Astrid
Olga Dmitri Katya Ivan Piotr Agnieszka Tomasz Giulia Marco Francesca Luca Chiara Kemal Elif Emre Selin Sione Aroha
Tane Jean-Luc Anne-Marie Mary-Jane José Zoë Björn Søren Renée""")
EN_LAST += _words("""Patel Sharma Singh Gupta Iyer Khan Hussain Ahmed Haddad Farouk Okafor Mensah Owusu Eze Abara Wang Zhang
Liu Sato Suzuki Watanabe Kim Park Choi Tran Pham Hernandez Martinez Rodriguez Gonzalez Silva Santos Costa Rossi Russo
Bianchi Esposito Müller Schmidt Fischer Novak Nowak Ivanov Petrov Jensen Hansen Larsen Johansson Andersson Yilmaz
Demir Kaya Dubois Lefebvre Moreau MacDonald O'Connor McCarthy Fitzgerald D'Souza Okonkwo Achebe Mbeki Takahashi
Kobayashi Yamamoto Nakamura Lim Goh Tan Chua Kaur Chopra Mehta Banerjee Fernandes Pereira Oliveira Kowalczyk
Lindqvist Nieminen Virtanen Papadopoulos Georgiou Cohen Levi Friedman""")
# Chinese compound surnames (复姓): rare but real, and two characters long, so a name is no longer "one surname
# character + given name". A closed class, shared by all splits like the single-character surnames.
ZH_COMPOUND_SURNAMES = _words("""欧阳 司马 上官 诸葛 慕容 东方 皇甫 令狐 公孙 端木 尉迟 夏侯 长孙 宇文 司徒 南宫 独孤 轩辕
西门 百里 呼延 申屠 太史 钟离""")
# Foreign names transliterated into Chinese (given name · family name), as Chinese text writes them. Open-ended
# like the other names, so cut from a shuffle.
ZH_FOREIGN_FIRST = _words("""玛丽 安娜 大卫 迈克尔 詹姆斯 艾米丽 露西 汤姆 杰克 莎拉 彼得 凯特 丹尼尔 苏菲 亚历山大 伊万 娜塔莎
穆罕默德 阿米尔 奥利维亚 本杰明 克里斯 索菲亚 卢卡斯 伊莎贝拉 艾玛 诺亚 乔治 海伦 维克多 朱莉娅 保罗 埃琳娜 马克 罗莎 尼娜
卡洛斯 安德烈 弗雷德 英格丽 拉尔斯 阿里 哈桑 莱拉 维克 杰西卡""")
ZH_FOREIGN_LAST = _words("""约翰逊 布朗 威廉姆斯 琼斯 米勒 戴维斯 威尔逊 泰勒 安德森 托马斯 怀特 哈里斯 马丁 汤普森 罗宾逊 克拉克
刘易斯 沃克 霍尔 艾伦 库克 摩根 贝克 科林斯 帕克 穆勒 施密特 费舍尔 彼得罗夫 伊万诺夫 罗西 费雷拉 席尔瓦 汉森 拉森 杜邦
勒菲弗 莫罗 卡普尔 沙玛 古普塔 汗 艾哈迈德 奥卡福 门萨""")

# --------------------------------------------------------------------------------------------------
# Phrase pools. {c} customer, {writer} someone who orders for the customer, {p} product (catalogue name),
# {pp} the product uncounted ("yoga mats"), {qp} the product counted ("3 yoga mats", "a pair of sunglasses"),
# {q} quantity, {m} measure word (Chinese), {city} city, {w} / {wqp} a wrong candidate (the quantity or city
# the customer takes back), {o} an unrelated other city, {n} an order or reference number (not a quantity).
# Every pool is cut 70/15/15 into train / validation / test, a dict of families family by family (``_cut``),
# so test messages are worded with phrasings the model never trained on, in both languages.
# --------------------------------------------------------------------------------------------------
EN = {
    "name_missing": [
        "I'd prefer not to give my name.", "No name needed.", "Don't put a name on it.", "Keep my name off it.",
        "Nameless order, please.", "I'm not giving a name.", "Customer name: none.", "My name doesn't matter.",
        "Buyer: anonymous.", "Without a name, please.", "You don't need my name.", "Name left out on purpose.",
        "No name on this one.", "I'd rather stay anonymous.", "Guest order.", "Name withheld.",
        "Anonymous buyer here.", "Skip the name, please.", "No account name for now.", "Ordering as a guest.",
        "Leave the name blank.", "No name given.", "I won't share my name.", "Unnamed order.",
        "Please process this anonymously.", "Put it down as a guest checkout.", "I'll stay nameless, thanks.",
        "No need for a name on the order.", "Just mark it anonymous.", "Name: prefer not to say.",
    ],
    "city_missing": [
        "Not sure of the city yet.", "The address comes later.", "City to be decided.", "I'll tell you where later.",
        "No delivery city yet.", "Destination: unknown.", "I haven't picked the city yet.", "City still open.",
        "The shipping city will follow.", "Address unknown at the moment.", "Don't know where to send it yet.",
        "City: not decided.", "Delivery address to follow.", "I'll send the city later.",
        "Address: to be confirmed.", "Not sure where to ship yet.", "Shipping city TBD.",
        "Will tell you the destination later.", "Destination pending.", "I'll confirm the delivery city soon.",
        "The city is unknown for now.", "Where to ship: still deciding.", "Ship-to city to follow.",
        "Delivery location not decided yet.", "We're moving, so the address comes next week.",
        "Hold the shipping until I send an address.", "Delivery city: TBA.", "Still working out where it should go.",
        "I'll email the delivery address separately.", "No address yet, sorry.",
    ],
    "name": [
        "This is {c}.", "My name is {c}.", "{c} here.", "Hi, {c} speaking.", "Customer: {c}.", "From {c}:",
        "Hello, I'm {c}.", "Name: {c}.", "It's {c} again.", "Order for {c}.", "{c} writing.",
        "Put it under {c}.", "Account holder: {c}.", "Signed, {c}.", "You can reach me as {c}.",
        "Booking name {c}.", "The order is for {c}.", "Regards, {c}.", "I am {c}.", "Buyer: {c}.",
        "Name's {c}.", "{c} again, your regular customer.", "This order comes from {c}.", "Ordered by {c}.",
        "Please use the name {c}.", "Full name: {c}.", "You know me, {c}.", "Name on the order: {c}.",
        "Write {c} on the parcel.", "Customer name - {c}.",
    ],
    # The order is placed for someone else: the customer is the person it is for, not the writer.
    "name_behalf": {
        "for": [
            "This order is for my boss, {c}.", "Ordering on behalf of {c}.", "I'm buying this for my mum, {c}.",
            "Please put it under my colleague {c}.", "It's a gift for {c}, so use that name.",
            "My manager {c} asked me to place this order.", "For {c} - I'm just the assistant.",
            "The customer is {c}, not me.", "Please bill it to {c}.", "I'm ordering for my father, {c}.",
            "Placing this for my client {c}.", "My wife {c} needs it.", "Please book it in {c}'s name.",
            "{c} (my sister) is the buyer.", "The order should be in the name of {c}.",
            "My flatmate {c} wants this.", "Buying on behalf of {c}.", "Please register it to my partner {c}.",
            "I'm sorting this out for my grandmother, {c}.", "Our director {c} is the customer here.",
        ],
        "writer": [
            "This is {writer}, ordering for {c}.", "{writer} here, on behalf of {c}.",
            "Hi, I'm {writer}, {c}'s assistant; the order is for {c}.", "I'm {writer}, writing for my boss {c}.",
            "{writer} speaking - this one is for my client {c}.", "My name is {writer}; please put the order under {c}.",
            "{writer} from reception, ordering for {c}.", "This is {writer}. The order is for {c}, not me.",
            "I'm {writer}, and I'm ordering for my neighbour {c}.", "{writer} here; please use my aunt's name, {c}.",
        ],
    },
    "order": {
        "neutral": [
            "I'd like to order {q} x {p}.", "Please send {q} units of {p}.", "Order: {p}, qty {q}.",
            "Can I get {q} of the {p}?", "I need {q} {p} units.", "{q} x {p}, please.", "Item: {p} (quantity {q}).",
            "Could you ship {q} pieces of {p}?", "Add {q} of {p} to my order.", "I want {q} {p} items.",
            "Requesting {p} x{q}.", "Put me down for {q} of the {p}.", "Quantity {q}, product {p}.",
            "I'll take {q} units of the {p}.", "We need {q} of your {p}.", "Reserve {q} {p} units for me.",
            "{p} - {q} units.", "Please book {q} x {p} for me.", "Looking to buy {q} of the {p}.",
            "Send over {q} {p} units.",
        ],
        "natural": [
            "I'd like {qp}, please.", "Please send {qp}.", "Can I get {qp}?", "I need {qp}.", "Could you ship {qp}?",
            "We'd like to order {qp}.", "I want to buy {qp}.", "Looking to order {qp}.", "Please add {qp} to my order.",
            "Order: {qp}.", "I'll take {qp}.", "Could I order {qp}?", "Send me {qp}, please.",
            "Need {qp} for the office.", "Kindly set aside {qp} for me.", "I'm after {qp}.", "{qp}, please.",
            "Requesting {qp}.", "Just {qp} this time.", "Can you send over {qp}?", "Please prepare {qp}.",
            "I would like to purchase {qp}.", "Our team needs {qp}.", "I'd love to get {qp}.",
            "Please pack {qp} for me.", "We're ordering {qp}.", "Put me down for {qp}.", "Could you reserve {qp}?",
            "I'm ordering {qp} today.", "Please dispatch {qp}.",
        ],
    },
    "order_noqty": {
        "neutral": [
            "I'd like some {p}, quantity not decided.", "The {p}, please; I'll confirm how many.",
            "Some {p} for me, amount later.", "Order the {p} for me; the number comes later.",
            "Please reserve the {p}, quantity open.", "I need the {p}, but not sure how many.", "{p}: quantity TBD.",
            "I'm after the {p}, how many I'll say later.", "Can you put the {p} aside? Amount to follow.",
            "We want the {p}; quantity unknown.", "{p} please, number not fixed yet.",
            "I'll buy the {p}, amount unclear.", "I'd like to order the {p}, not sure how many yet.",
            "Please send the {p}; quantity to be confirmed.", "Interested in the {p}, will confirm the amount later.",
            "Order: {p}, qty TBD.", "I want the {p}, amount undecided.", "Item: {p}, quantity unknown for now.",
            "Put me down for the {p}, number to follow.", "Can I order the {p}? I'll tell you how many later.",
        ],
        "natural": [
            "I'd like some {pp}, not sure how many yet.", "Can you send {pp}? I'll confirm the number.",
            "Need {pp}, quantity TBD.", "Please reserve {pp} for me; the count comes later.",
            "We want {pp}, how many depends on the budget.", "Looking for {pp}, amount to be decided.",
            "I'll order {pp} - the number follows tomorrow.", "Some {pp}, please; quantity still open.",
            "Put aside {pp} for us, exact number later.", "We'll need {pp}, I'll confirm the amount.",
            "Please quote {pp}; how many is not decided.", "I need {pp} but haven't decided how many.",
        ],
    },
    # A quantity left out without a word: the record's quantity is null all the same.
    "order_silent": [
        "I'd like to order {pp}.", "Please send me {pp}.", "We want to buy {pp}.", "Interested in buying {pp}.",
        "I need some {pp}.", "Ordering {pp}.", "Please ship {pp}.", "Could I buy {pp}?", "Some {pp}, please.",
        "I'm looking for {pp}.", "We'd like {pp}.", "Please get me {pp}.", "Do you still sell {pp}? I want some.",
        "Order for {pp}.",
    ],
    # Corrections come in families of sentence structure: the wrong value first and then the fix, the right value
    # first and the wrong one negated after it, the wrong one negated first (and, for cities, a distractor city).
    # Each family is cut 70/15/15 on its own (``_cut``), so training sees every structure the test split uses,
    # in other wordings.
    "order_fix": {
        "fix_after": [
            "I'd like {w} x {p}. Actually, make it {q}.", "Please send {w} units of {p} - sorry, I meant {q}.",
            "Order {w} of the {p}... no wait, {q}.", "{w} x {p}. Correction: {q} units.",
            "I need {w} {p} units, change that to {q}.", "Can I get {w} of the {p}? Oops, {q} instead.",
            "Quantity {w} for the {p}; scratch that, {q}.", "Put me down for {w} {p} units. Sorry, {q}.",
            "I said {w} {p} units earlier, it should be {q}.", "{p}: {w}, no, {q} pieces.",
            "I'd like {wqp}. Actually, make that {q}.", "Please send {wqp} - no, sorry, {qp}.",
            "Can I get {wqp}? Wait, {q} is better.", "I need {wqp}, or rather {qp}.",
        ],
        "right_first": [
            "Make it {q} {p} units, not {w}.", "{q} x {p}, not {w} as I said before.",
            "Send {q} of the {p}; the {w} I mentioned was a typo.", "Please ship {q} {p} units rather than {w}.",
            "I need {q} {p} units (earlier I wrote {w}, that was wrong).",
            "{q} units of {p} - ignore the {w} from my last message.", "Update: {q} of the {p} instead of {w}.",
            "Please send {qp}, not {w}.", "I want {qp} - {w} was a typo.", "We need {qp} rather than {w}.",
        ],
        "wrong_negated_first": [
            "Not {w} but {q} units of {p}, please.", "Not {w}, I need {q} of the {p}.", "Forget {w}: {q} x {p}.",
            "Scratch {w}; I'll take {q} of the {p}.", "{w} {p} units is wrong, make it {q}.",
            "Ignore the {w}: {q} of the {p} is right.", "Not {w} - {qp}, please.", "Forget the {w}, send {qp}.",
        ],
    },
    "city": {
        "plain": [
            "Ship to {city}.", "Deliver it to {city}, please.", "I'm in {city}.", "Address: {city}.",
            "Send it to {city}.", "Shipping city: {city}.", "Destination: {city}.", "I live in {city}.",
            "It goes to {city}.", "Please deliver to {city}.", "Delivery to {city}.", "Our office is in {city}.",
            "City: {city}.", "Bring it to {city}.", "Post it to {city}.", "Drop-off in {city}.",
            "The parcel goes to {city}.", "Based in {city}.", "Deliver in {city}.", "To {city}, thanks.",
        ],
        "natural": [
            "Please ship it to my home in {city}.", "We're based in {city}.", "Deliver to our shop in {city}.",
            "Send it over to {city}.", "The address is in {city}.", "My place is in {city}.",
            "Please deliver to our {city} office.", "It should go to {city}.", "I'm located in {city}.",
            "Ship to my flat in {city}, please.", "Delivery goes to {city} as usual.", "We're over in {city}.",
            "Please send it to my work address in {city}.", "Our warehouse is in {city}.",
        ],
    },
    "city_fix": {
        "fix_after": [
            "Ship to {w}. Oops, no: ship to {city}.", "Deliver to {w} - sorry, {city}.",
            "Address: {w}, correction, {city}.", "Destination {w}... no wait, {city}.",
            "Change the city from {w} to {city}.", "I moved from {w} to {city}, so ship to {city}.",
            "Ship to {w}. Scratch that, {city}.", "Send it to {w}, I mean {city}.",
            "Deliver in {w}. Correction: {city}.", "City: {w}, sorry, make that {city}.",
        ],
        "right_first": [
            "Send it to {city}, not {w}.", "Deliver to {city}, not to {w} as I wrote before.",
            "It goes to {city}; ignore the {w} address.", "Destination: {city}. {w} was a typo.",
            "Please deliver to {city} rather than {w}.", "Ship to {city} - forget {w}.",
            "Address is {city}; the {w} one is outdated.", "To {city}, please, and not {w}.",
            "Deliver to {city} (I used to live in {w}).", "Ship to {city}, my old address in {w} is wrong.",
        ],
        "wrong_negated_first": [
            "Not {w}: the parcel goes to {city}.", "Not {w} but {city}, please.", "Not to {w}, deliver to {city}.",
            "Forget {w}; ship to {city}.", "Ignore {w}, the city is {city}.", "{w} is wrong, send it to {city}.",
            "Not our {w} office - {city}, please.",
        ],
        "distractor": [  # another city is mentioned, but not as the destination
            "My friend in {o} recommended it; ship to {city}.", "I'm visiting {o}, but deliver to {city}.",
            "Ship to {city}; I'm flying to {o} next week.", "Deliver to {city}. My sister in {o} loves your shop.",
            "I work in {o} but live in {city}; ship to {city}.", "Send it to {city} (I saw your ad in {o}).",
            "Saw your stand in {o}. Deliver to {city}.", "I'm in {o} this week, but it goes to {city}.",
            "Deliver to {city}, not the {o} store I usually pick up from.",
        ],
    },
    # Details that are no field: colours, dates, gift wrap, a reference number ({n} is not the quantity).
    "extra": [
        "Any colour is fine.", "No rush.", "I need it by Friday.", "Please gift-wrap it.",
        "My last order number was {n}.", "Call me if anything is unclear.", "Leave it with the neighbour if I'm out.",
        "Is express shipping possible?", "I've paid by card already.", "Black if you have it.",
        "It's for a birthday.", "Please include the receipt.", "Delivery after 5 pm works best.", "Reference: {n}.",
        "Can you confirm by email?", "Second order this month!", "Customer number {n}.",
        "Please use recycled packaging.", "Invoice to the same address as last time.", "Ring the bell twice.",
    ],
    "open": ["", "", "", "Hi!", "Hello,", "Good morning.", "Hey there.", "Quick order:", "Hi team,", "Dear shop,",
             "Hello again.", "Greetings.", "Morning!", "Hiya,", "Evening.", "Hi folks,", "Good afternoon!",
             "Hello there,", "Hi again,", "Afternoon,"],
    "close": ["", "", "", "Thanks!", "Thank you.", "Cheers.", "Thanks a lot.", "Best wishes.", "Much appreciated.",
              "Thanks in advance.", "Have a nice day.", "Kind regards.", "Talk soon.", "Many thanks.",
              "Thanks so much!", "Appreciate it.", "Take care.", "Thank you kindly.", "Ta!"],
    # --- e-mail ------------------------------------------------------------------------------------------------
    "subject": [
        "Subject: Order", "Subject: New order", "Subject: Order request", "Subject: {pp}", "Subject: Order - {pp}",
        "Subject: Purchase request", "Subject: Quick order", "Subject: Re: your price list", "Subject: Order for {pp}",
        "Subject: Re: order", "Subject: Request", "Subject: Need {pp}", "Subject: Order #{n}", "Subject: PO {n}",
        "Subject: Fwd: order", "Subject: Enquiry and order", "Subject: Order (urgent)", "Subject: Reorder",
        "Subject: Shipping request", "Subject: Hello",
    ],
    "greet": [
        "Dear team,", "Hello,", "Hi there,", "Dear Sir or Madam,", "Good afternoon,", "Hi all,", "Dear shop,",
        "Hello team,", "Dear customer service,", "Hi,", "Good morning team,", "To whom it may concern,",
        "Dear colleagues,", "Hey folks,", "Greetings,",
    ],
    "sign": [
        "Best,\n{c}", "Regards,\n{c}", "Kind regards,\n{c}", "Thanks,\n{c}", "Cheers,\n{c}", "Best regards,\n{c}",
        "--\n{c}", "Thank you,\n{c}", "Warm wishes,\n{c}", "Sincerely,\n{c}", "Many thanks,\n{c}",
        "All the best,\n{c}", "- {c}", "Sent by {c}", "Yours,\n{c}", "Thanks a lot,\n{c}", "Cheers, {c}",
        "Best wishes, {c}", "Regards, {c}", "Thx, {c}",
    ],
    "sign_anon": [
        "Best,", "Regards,", "Thanks.", "Sent from my phone", "Kind regards", "Thank you.", "Cheers", "Best wishes",
        "Sent from my iPad", "Thanks in advance!", "Have a good one.", "Regards",
    ],
    # --- chat ----------------------------------------------------------------------------------------------------
    "chat_order": [
        "can i get {qp}", "need {qp} asap", "{q}x {p} pls", "{qp} pls", "i want {qp}", "gimme {qp}",
        "could u send {qp}", "pls send {qp}", "{qp} please", "{q} {p} pls", "order {qp} thx", "looking for {qp}",
        "want to buy {qp}", "{qp} for me pls", "need {qp}", "lemme get {qp}", "quick one: {qp}", "{p} x{q} pls",
        "qty {q} {p}", "{qp}?? pls", "u got {pp}? want {q}", "{q} of the {p} plz", "get me {qp}",
        "wanna order {qp}",
    ],
    "chat_noqty": [
        "some {pp} pls, not sure how many", "want {pp}, qty tbd", "need {pp}, will say how many later",
        "{pp}? how many tbd", "pls hold {pp}, number later", "{p}, qty later", "want {pp} - amount idk yet",
        "gonna need {pp}, count tbc", "{pp} pls, how many later", "reserve {pp}? qty tbd",
    ],
    "chat_silent": [
        "want some {pp}", "need {pp}", "u sell {pp}? want some", "{pp} pls", "gimme {pp}", "looking for {pp}",
        "after {pp}", "wanna buy {pp}", "got {pp}?? want em",
    ],
    "chat_city": [
        "ship to {city}", "to {city} pls", "im in {city}", "deliver {city}", "send to {city} thx", "{city} pls",
        "going to {city}", "addr: {city}", "city {city}", "ship {city}", "based in {city}", "deliver to {city} asap",
        "{city} address", "send it {city}", "to {city}",
    ],
    "chat_city_fix": [
        "ship to {w} - no wait, {city}", "{w}... sorry, {city}", "to {city} not {w}", "not {w}, {city}",
        "deliver {city} (not {w})", "im in {o} rn but ship {city}", "{w} oops i mean {city}",
        "send {city} pls, forget {w}", "im visiting {o}, deliver to {city}", "{city}, not {w} lol",
    ],
    "chat_name": [
        "- {c}", "it's {c}", "{c} here", "this is {c}", "from {c}", "~{c}", "name {c}", "im {c}", "{c}",
        "sent by {c}", "{c} again", "name's {c}", "{c} (customer)", "me: {c}",
    ],
    "chat_name_missing": [
        "no name pls", "anon", "guest order", "dont need my name", "skip the name", "no name", "anonymous pls",
        "name not needed", "guest checkout", "leave my name out",
    ],
    "chat_city_missing": [
        "city tbd", "addr later", "will send address later", "not sure where yet", "city later",
        "dunno where to ship yet", "address tbc", "destination later", "where: tbd", "city idk yet",
    ],
    "chat_open": ["", "", "hey", "hi", "yo", "hiya", "hello", "hey there", "morning", "hi!!", "heyy", "ok so"],
    "chat_close": ["", "", "thx", "thanks!", "ty", "cheers", "thx!!", "ta", "much appreciated", "pls and thx",
                   "thank u", "tysm"],
    # --- forms: one "Label: value" line per field --------------------------------------------------------------
    "form_header": [
        "", "", "ORDER FORM", "Order details", "New order", "Web order #{n}", "Order form #{n}", "--- Order ---",
        "Online order", "Customer order", "Order summary", "Request form", "Order ref {n}", "Purchase form",
    ],
    "label_name": [
        "Name", "Full name", "Customer", "Customer name", "Buyer", "Ordered by", "Contact", "Recipient",
        "Account name", "Your name", "Client", "Purchaser", "Name of customer", "Contact person",
    ],
    "label_product": [
        "Item", "Product", "Article", "Product name", "Item name", "Goods", "Item wanted", "Product/Item", "What",
        "Product ordered",
    ],
    "label_qty": [
        "Qty", "Quantity", "Amount", "How many", "Units", "Count", "No. of items", "Number of units", "Pieces",
        "Qty wanted",
    ],
    "label_city": [
        "City", "Ship to", "Deliver to", "Destination", "Delivery city", "Shipping city", "Town/City", "Send to",
        "Delivery location", "City (delivery)",
    ],
    "form_missing": [
        "-", "n/a", "N/A", "TBD", "(none)", "to be confirmed", "?", "unknown", "not sure", "later", "none", "---",
        "TBA", "(blank)", "pending", "not decided",
    ],
    "form_missing_name": ["anonymous", "guest", "(anonymous)", "prefer not to say", "withheld", "none given"],
    "form_extra": [
        "Colour: any", "Notes: please call before delivery", "Gift wrap: yes", "Order no: {n}", "Delivery: next week",
        "Payment: card", "Notes: -", "Phone: on file", "Customer no.: {n}", "Comments: leave at the door",
    ],
}
ZH = {
    "name_missing": [
        "匿名下单。", "不留名了。", "游客下单。", "姓名保密。", "名字就不写了。", "匿名购买。", "不方便留名字。",
        "姓名暂不提供。", "无需署名。", "匿名，谢谢。", "名字先不留。", "不写姓名了。", "不用写名字。", "名字就算了。",
        "姓名不填了。", "匿名就好。", "本人不便留名。", "不需要写我名字。", "请匿名处理。", "不署名。",
    ],
    "city_missing": [
        "地址稍后告诉你。", "收货城市待定。", "寄到哪里还没定。", "城市之后再说。", "送货地址待确认。", "目的地未定。",
        "地址晚点发你。", "城市还没想好。", "收货地待定。", "发哪里回头再说。", "地址暂不确定。", "城市以后补。",
        "地址回头发你。", "收货地还没确定。", "寄哪儿还没想好。", "具体发哪里之后通知。", "地址后补。",
        "收货地址稍后提供。", "去哪儿还不知道。", "城市先空着。",
    ],
    "name": [
        "我是{c}。", "我叫{c}。", "{c}下单。", "您好，我是{c}。", "客户：{c}。", "姓名：{c}。", "这里是{c}。",
        "订购人{c}。", "{c}来下单。", "收件人：{c}。", "我姓名是{c}。", "买家：{c}。", "下单人：{c}。",
        "联系人{c}。", "{c}，老客户了。", "本人{c}。", "落款：{c}。", "{c}留言。", "{c}在此下单。",
        "客户姓名{c}。", "麻烦登记一下名字：{c}。", "我的名字是{c}。", "我这边是{c}。", "署名：{c}。",
        "这单是{c}的。", "名字写{c}就行。", "我是老顾客{c}。", "账户名{c}。", "我这儿是{c}。", "鄙人{c}。",
        "{c}，之前买过你家东西。", "订货人：{c}。", "登记姓名{c}。", "请记在{c}名下。", "顾客{c}。", "寄件人写{c}。",
        "找{c}签收。", "收货人{c}。", "我是你们的会员{c}。", "我的名字：{c}。", "我叫做{c}。", "{c}这边要下单。",
    ],
    "name_behalf": {
        "for": [
            "帮我妈妈{c}订的。", "替我们老板{c}下单。", "给同事{c}买的，写她的名字。", "代{c}订购。", "这单是帮{c}下的。",
            "帮朋友{c}买。", "收件人写我爸{c}。", "给我老公{c}订。", "替客户{c}下单。", "我帮领导{c}订一下。",
            "订单请写{c}的名字。", "是给{c}买的，名字写{c}。", "帮我奶奶{c}买的。", "代表{c}下单。",
            "替我们经理{c}订的。", "给我女儿{c}买的。", "这是帮室友{c}订的。", "帮客户{c}订一下。", "我替舅舅{c}下单。",
            "受{c}委托下单。", "送给{c}的礼物，写她名字。",
        ],
        "writer": [
            "我是{writer}，帮{c}下单。", "{writer}这边，替{c}订。", "我叫{writer}，是{c}的助理，这单写{c}。",
            "我是{writer}，替老板{c}买。", "这里是{writer}，帮同事{c}订。", "我是{writer}，订单写我朋友{c}的名字。",
            "{writer}代{c}下单。",
        ],
    },
    "order": {
        "plain": [
            "我想订{q}{m}{p}。", "请帮我买{p}{q}{m}。", "订购{p}，数量{q}。", "{p}要{q}{m}。", "来{q}{m}{p}。",
            "需要{q}{m}{p}。", "给我拿{q}{m}{p}。", "购买{p}，共{q}{m}。", "我要买{q}{m}{p}。", "{p}订{q}{m}。",
            "下单{p}×{q}。", "麻烦寄{q}{m}{p}。", "预订{q}{m}{p}。", "{p}数量：{q}。", "帮我订{q}{m}{p}。",
            "想要{q}{m}{p}。", "我们需要{p}{q}{m}。", "采购{q}{m}{p}。", "{p}来{q}{m}。",
        ],
        "more": [
            "我要订{q}{m}{p}。", "帮忙拿{q}{m}{p}。", "请给我发{q}{m}{p}。", "想订购{p}，要{q}{m}。", "{p}，{q}{m}。",
            "麻烦来{q}{m}{p}。", "我们公司要{q}{m}{p}。", "请备货{p}{q}{m}。", "{q}{m}{p}，谢谢。",
            "下单：{p}{q}{m}。", "需要订购{q}{m}{p}。", "我想要{p}，{q}{m}。", "买{q}{m}{p}。", "来一单{p}，{q}{m}。",
            "想给家里添{q}{m}{p}。", "我们小组要采购{q}{m}{p}。", "请寄{q}{m}{p}过来。", "帮我下单{q}{m}{p}。",
            "打算买{q}{m}{p}。", "要订{p}，数量是{q}{m}。", "{p}一共要{q}{m}。", "麻烦帮我备{q}{m}{p}。", "我订{q}{m}{p}。",
            "能不能给我发{q}{m}{p}？", "{p}需要{q}{m}。", "先来{q}{m}{p}试试。",
        ],
    },
    # One item, with its measure word or 个 and no number: 买个帐篷 is one tent.
    "order_one": ["想买个{p}。", "来个{p}。", "我要{m}{p}。", "给我来{m}{p}。", "帮我订个{p}。", "买{m}{p}。", "需要个{p}。"],
    "order_noqty": {
        "plain": [
            "我想订{p}，数量还没定。", "要{p}，数量稍后确认。", "订购{p}，数量待定。", "想买{p}，要几{m}还不确定。",
            "{p}先下单，数量之后再说。", "购买{p}，数量未知。", "需要{p}，具体多少回头告诉你。", "预订{p}，数量待确认。",
            "{p}要一些，数量晚点定。", "我要{p}，数量还在商量。", "下单{p}，数量以后补。", "采购{p}，数量未定。",
        ],
        "more": [
            "想要{p}，数量还没想好。", "{p}先订上，几{m}回头说。", "要点{p}，数量晚些告诉你。", "需要{p}，多少待定。",
            "{p}有货吗？数量后面再确认。", "{p}帮我留着，要几{m}再说。", "打算买{p}，数量没定。",
        ],
    },
    "order_silent": [
        "我想买{p}。", "请给我寄{p}。", "要{p}。", "订购{p}。", "麻烦发{p}。", "我需要{p}。", "想买点{p}。",
        "帮我订{p}。", "有{p}吗？想要。", "下单{p}。",
    ],
    "order_fix": {
        "fix_after": [
            "要{w}{m}{p}，不对，改成{q}{m}。", "{p}{w}{m}……抱歉，是{q}{m}，不是{w}{m}。", "订{w}{m}{p}，哦不，{q}{m}。",
            "{p}数量{w}，更正为{q}。", "先订{w}{m}{p}，算了，改为{q}{m}。", "{p}从{w}{m}改成{q}{m}。",
            "买{w}{m}{p}，不，{q}{m}就好。", "{p}：{w}{m}，更正，{q}{m}。", "刚才说{w}{m}{p}，应该是{q}{m}。",
        ],
        "right_first": [
            "{p}要{q}{m}，不是{w}{m}。", "{p}{q}{m}（之前写的{w}{m}作废）。", "{q}{m}{p}，不要{w}{m}。",
            "要{q}{m}{p}，刚才的{w}{m}是打错了。", "{p}改成{q}{m}，别按{w}{m}发。", "就要{q}{m}{p}，{w}{m}那个不算。",
        ],
        "wrong_negated_first": [
            "我说错了，{p}不是{w}{m}，是{q}{m}。", "不是{w}{m}，是{q}{m}{p}。", "{p}别发{w}{m}，发{q}{m}。",
            "不要{w}{m}了，{p}要{q}{m}。", "{w}{m}不对，{p}应该是{q}{m}。",
        ],
    },
    "city": {
        "plain": [
            "寄到{city}。", "送到{city}，谢谢。", "我在{city}。", "收货城市：{city}。", "发往{city}。", "地址在{city}。",
            "请送到{city}。", "目的地{city}。", "快递到{city}。", "人在{city}。", "城市：{city}。", "发到{city}就行。",
            "送货地点{city}。", "寄往{city}。", "收货地{city}。", "我住{city}。", "送至{city}。", "配送到{city}。",
            "麻烦发{city}。",
        ],
        "more": [
            "收货地址：{city}。", "我家在{city}。", "寄到{city}那边。", "发到{city}来。", "送到我们{city}的店里。",
            "地址是{city}。", "请寄往{city}。", "东西寄{city}。", "到{city}。", "我们在{city}。", "公司在{city}，寄公司。",
            "寄我{city}的家。", "寄到我在{city}的家里。", "送到她在{city}的公司。", "发货地址：{city}。", "收货在{city}。",
            "人在{city}，寄过来吧。", "寄到{city}办公室。", "麻烦送去{city}。", "快递发{city}。", "请发往{city}的仓库。",
            "我们店在{city}。", "目的地是{city}市区。", "送货到{city}。",
        ],
    },
    "city_fix": {
        "fix_after": [
            "寄到{w}，哦不，寄到{city}。", "送到{w}……抱歉，是{city}。", "地址{w}，更正：{city}。",
            "城市改一下，从{w}改成{city}。", "目的地{w}，不对，{city}。", "发{w}，算了，还是发{city}。",
            "寄{w}吧……不对，寄{city}。",
        ],
        "right_first": [
            "寄到{city}，不是{w}。", "送到{city}（以前住{w}）。", "发往{city}，{w}的旧地址作废。", "寄{city}，别寄{w}。",
            "送{city}，{w}那个地址不用了。",
        ],
        "wrong_negated_first": [
            "不是{w}，是{city}。", "我从{w}搬到了{city}，寄{city}。", "别寄{w}了，寄{city}。", "{w}不对，应该寄{city}。",
            "不发{w}，发{city}。",
        ],
        "distractor": [
            "我朋友在{o}推荐的，寄到{city}。", "我在{o}出差，但请寄到{city}。", "虽然我人在{o}，但是寄{city}。",
            "寄{city}，下周我去{o}。", "在{o}看到你们的广告，请寄到{city}。", "我老家{o}的，现在寄{city}。",
        ],
    },
    "extra": [
        "颜色随便。", "不着急。", "周五前要到。", "帮忙包装一下。", "上次订单号是{n}。", "有问题打我电话。", "放门卫就行。",
        "能发顺丰吗？", "已经付款了。", "要黑色的。", "送人的，包装好点。", "发票一起寄。", "下午五点后送。", "订单号{n}。",
        "这个月第二次买了。", "会员号{n}。", "用环保包装吧。", "到了给我打电话。",
    ],
    "open": ["", "", "", "你好，", "您好！", "在吗？", "老板好，", "早上好，", "你好呀，", "麻烦一下，", "打扰了，",
             "嗨，", "晚上好，", "客服你好，", "亲，", "哈喽，", "下午好，", "掌柜的，", "店家你好，", "您好，"],
    "close": ["", "", "", "谢谢！", "多谢。", "辛苦了。", "谢谢啦。", "麻烦了。", "感谢！", "谢谢您。", "辛苦啦！",
              "拜托了。", "尽快哦。", "先谢过。", "谢谢老板。", "有劳了。", "感谢感谢。", "谢啦！"],
    # --- e-mail ------------------------------------------------------------------------------------------------
    "subject": [
        "主题：订购", "主题：下单", "主题：订单", "主题：采购{p}", "主题：关于{p}的订单", "主题：求购{p}", "主题：订单#{n}",
        "主题：急单", "主题：补货", "主题：询价及下单", "主题：购买{p}", "主题：新订单", "标题：订货", "主题：回复：报价单",
    ],
    "greet": ["您好：", "你好！", "尊敬的客服：", "各位好，", "老板您好：", "贵店您好：", "客服同学你好，", "早上好！",
              "您好，", "商家你好：", "负责人您好："],
    "sign": ["{c}\n敬上", "此致\n{c}", "——{c}", "谢谢！{c}", "{c}敬上", "祝好，{c}", "{c}\n即日", "落款：{c}",
             "署名：{c}", "发件人：{c}", "{c}\n谢谢", "顺祝商祺\n{c}"],
    "sign_anon": ["谢谢！", "此致敬礼", "祝好", "麻烦了", "——来自手机", "辛苦了", "顺祝商祺", "感谢"],
    # --- chat: colloquial, sentence particles (``PARTICLES``) appended ---------------------------------------------
    "chat_order": [
        "来{q}{m}{p}", "要{q}{m}{p}", "{p}{q}{m}", "拿{q}{m}{p}", "想要{q}{m}{p}", "给我{q}{m}{p}", "{q}{m}{p}就行",
        "买{q}{m}{p}", "整{q}{m}{p}", "下单{q}{m}{p}", "订{q}{m}{p}", "{p}要{q}{m}", "{p}来{q}{m}", "帮我拿{q}{m}{p}",
    ],
    "chat_noqty": ["{p}来点，几{m}还没定", "要点{p}，数量待定", "{p}先要着，数量回头说", "想要{p}，多少还没想好",
                   "{p}，数量待定", "{p}留几{m}，具体多少再说", "要{p}，几{m}晚点说"],
    "chat_silent": ["要{p}", "来点{p}", "想买{p}", "{p}有吗，要", "求{p}", "整点{p}", "我要{p}"],
    "chat_city": ["寄{city}", "发{city}", "送{city}", "到{city}", "地址{city}", "人在{city}", "寄到{city}去",
                  "{city}那边", "发货到{city}", "寄我{city}家", "{city}收", "我{city}的"],
    "chat_city_fix": ["寄{w}，不对，{city}", "发{city}，不是{w}", "别寄{w}，寄{city}", "{w}……不对是{city}",
                      "人在{o}，但寄{city}", "寄{city}，{w}那个不要了", "不是{w}是{city}"],
    "chat_name": ["我{c}", "{c}这边", "我是{c}", "叫{c}", "名字{c}", "{c}下的单", "我叫{c}", "{c}要的", "下单人{c}"],
    "chat_name_missing": ["不留名", "名字不写了", "匿名", "不用名字", "名字就不给了", "匿名就行", "不留名字"],
    "chat_city_missing": ["地址晚点说", "寄哪还没定", "城市待定", "地址回头给", "寄哪儿再说", "地址还没想好", "城市后面补"],
    "chat_open": ["", "", "在吗", "亲", "哈喽", "嗨", "老板", "在不在", "你好呀", "喂", "亲亲", "老板在吗"],
    "chat_close": ["", "", "谢啦", "谢谢亲", "辛苦", "多谢", "麻烦啦", "拜托拜托", "感谢", "谢谢老板", "爱了"],
    # --- forms -------------------------------------------------------------------------------------------------
    "form_header": ["", "", "订单信息", "【订单】", "下单表", "订单#{n}", "购买信息", "---订单---", "网店订单{n}号",
                    "订货单", "订单详情", "采购单"],
    "label_name": ["姓名", "名字", "客户", "联系人", "收件人", "下单人", "买家", "客户姓名", "称呼", "订购人"],
    "label_product": ["商品", "产品", "品名", "货品", "宝贝", "商品名称", "购买商品", "物品", "要的东西", "货物"],
    "label_qty": ["数量", "件数", "个数", "购买数量", "要几个", "订购数量", "数目", "份数"],
    "label_city": ["城市", "收货城市", "寄往", "送货城市", "目的地", "所在城市", "收货地", "发往", "配送城市", "寄送城市"],
    "form_missing": ["无", "暂无", "待定", "不详", "——", "未定", "（空）", "不填", "稍后告知", "暂不确定", "-", "待确认",
                     "未知", "以后补"],
    "form_missing_name": ["匿名", "保密", "不留", "无", "不方便透露", "游客"],
    "form_extra": ["颜色：随便", "备注：送货前电话联系", "包装：礼品包装", "订单号：{n}", "配送：下周", "付款：已付",
                   "备注：无", "电话：见账户", "会员号：{n}", "备注：放门口"],
}
# Closed classes, shared by all splits: sentence particles of chat Chinese, and the separators of a form.
PARTICLES = ["", "", "哈", "呀", "啦", "哦", "呗", "嘛", "～", "吧", "哈～", "呢", "噢"]
EN_LABEL_SEPS = [": ", ": ", " - ", ":  ", " : "]
ZH_LABEL_SEPS = ["：", "：", ":", " ", "： "]
# fmt: on
# How customers count catalogue products in English. The record always holds the catalogue name (the contract);
# the message may inflect it ("3 yoga mats"), count pairs ("two pairs of running shoes") or packs.
EN_PAIRS = {"sunglasses", "headphones", "running shoes", "hiking boots", "rain boots", "ski goggles"}
EN_PACKS = {"printer paper": ("pack", "packs")}
EN_IRREGULAR = {
    "wireless mouse": "wireless mice",
    "wool scarf": "wool scarves",
    "bread knife": "bread knives",
}


def en_plural(product: str) -> str:
    """The plural a customer writes: "yoga mat" -> "yoga mats", "dog leash" -> "dog leashes"."""
    if product in EN_IRREGULAR:
        return EN_IRREGULAR[product]
    if product in EN_PAIRS or product in EN_PACKS:
        return product
    if product.endswith(("s", "sh", "ch", "x")):
        return product + "es"
    return product + "s"


def _article(word: str) -> str:
    return "an" if word[0] in "aeiouAEIO" else "a"  # "an umbrella", "an office chair", but "a USB-C cable"


def en_counted(product: str, q: int, q_text: str) -> str:
    """The product with its count, as people write it: "a desk lamp", "3 yoga mats", "two pairs of ski goggles"."""
    one = q == 1  # "1" is written as an article ("a desk lamp"); "one" stays a word ("one desk lamp")
    if product in EN_PAIRS:
        return (
            f"{_article('pair') if one and q_text == '1' else q_text} pair{'' if one else 's'} of {product}"
        )
    if product in EN_PACKS:
        unit, units = EN_PACKS[product]
        return f"{_article(unit) if one and q_text == '1' else q_text} {unit if one else units} of {product}"
    if one:
        return f"{_article(product) if q_text == '1' else q_text} {product}"
    return f"{q_text} {en_plural(product)}"


def en_uncounted(product: str) -> str:
    """The product with no count: "yoga mats", "running shoes", "printer paper"."""
    return en_plural(product)


def _unique(items: list) -> list:
    """Drop repeats, keeping the first: a value listed twice could land in two splits."""
    seen: set = set()
    return [x for x in items if not (x in seen or seen.add(x))]


EN_FIRST, EN_LAST, EN_PRODUCTS, EN_CITIES = map(_unique, (EN_FIRST, EN_LAST, EN_PRODUCTS, EN_CITIES))
ZH_SURNAMES, ZH_GIVEN, ZH_PRODUCTS, ZH_CITIES = map(_unique, (ZH_SURNAMES, ZH_GIVEN, ZH_PRODUCTS, ZH_CITIES))
ZH_FOREIGN_FIRST, ZH_FOREIGN_LAST = map(_unique, (ZH_FOREIGN_FIRST, ZH_FOREIGN_LAST))

EN_NUMBER_WORDS = _words("""zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen
sixteen seventeen eighteen nineteen twenty""")
ZH_DIGITS = "零一二三四五六七八九"


def _cut(items: list | dict[str, list], split: str) -> list:
    """The part of ``items`` a split may use: first 70 % train, next 15 % validation, last 15 % test.

    A dict of families (``{"fix_after": [...], ...}``) is cut family by family, so every split gets every family.
    Every part gets at least one item (pools hold at least three).
    """
    if isinstance(items, dict):
        return [item for family in items.values() for item in _cut(family, split)]
    n = len(items)
    if n < 3:
        raise ValueError(f"a pool of {n} cannot be cut into three parts: {items}")
    a = min(round(n * 0.70), n - 2)
    b = min(max(round(n * 0.85), a + 1), n - 1)
    return {"train": items[:a], "validation": items[a:b], "test": items[b:]}[split]


def _cut_names(names: list[str], split: str) -> list[str]:
    """``_cut`` of a fixed shuffle of ``names``: each split gets common and rare names alike."""
    return _cut(random.Random("names").sample(names, len(names)), split)


def _en_number(n: int, rng: random.Random) -> str:
    return "a dozen" if n == 12 and rng.random() < 0.3 else EN_NUMBER_WORDS[n]


def _zh_number(n: int, *, before_measure: bool) -> str:
    if n == 2 and before_measure:
        return "两"
    if n < 10:
        return ZH_DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else ZH_DIGITS[tens]) + "十" + (ZH_DIGITS[ones] if ones else "")


class Pools:
    """The entity and phrase pools one split may draw from."""

    def __init__(self, split: str) -> None:
        self.rates = RATES[split]
        # Every wording is cut, in both languages: the test split measures new wordings (data/README.md).
        self.en = {k: _cut(v, split) for k, v in EN.items()}
        self.zh = {k: _cut(v, split) for k, v in ZH.items()}
        self.en_first, self.en_last = _cut_names(EN_FIRST, split), _cut_names(EN_LAST, split)
        # Products and cities form the shop's catalog and delivery area: a closed set, known when the model is
        # trained, so all splits share them. Customer names are open-ended, so they are cut like the phrasings.
        self.en_products, self.en_cities = EN_PRODUCTS, EN_CITIES
        # Chinese surnames (single and compound) are a closed class (a few hundred cover nearly everyone), so every
        # split draws from the whole list; given names and transliterated foreign names are cut, so full test
        # names are still never seen in training.
        self.zh_surnames, self.zh_compound = ZH_SURNAMES, ZH_COMPOUND_SURNAMES
        self.zh_given = _cut_names(ZH_GIVEN, split)
        self.zh_foreign_first = _cut_names(ZH_FOREIGN_FIRST, split)
        self.zh_foreign_last = _cut_names(ZH_FOREIGN_LAST, split)
        self.zh_products, self.zh_cities = ZH_PRODUCTS, ZH_CITIES


def _quantity_text(
    rng: random.Random, q: int, lang: str, *, before_measure: bool, rate: float
) -> tuple[str, bool]:
    """Digits most of the time, words (English or Chinese) at the split's rate."""
    if q <= 20 and rng.random() < rate:
        return (_en_number(q, rng) if lang == "en" else _zh_number(q, before_measure=before_measure)), True
    return str(q), False


def _name(rng: random.Random, pools: Pools, lang: str) -> tuple[str, list[str]]:
    """A customer name and its tags: English names from many cultures; Chinese ones, some with a compound
    surname (欧阳娜) or transliterated from another language (大卫·布朗)."""
    if lang == "en":
        return f"{rng.choice(pools.en_first)} {rng.choice(pools.en_last)}", []
    roll = rng.random()
    if roll < 0.1:
        return f"{rng.choice(pools.zh_foreign_first)}·{rng.choice(pools.zh_foreign_last)}", ["name:foreign"]
    if roll < 0.2:
        return rng.choice(pools.zh_compound) + rng.choice(pools.zh_given), ["name:compound"]
    return rng.choice(pools.zh_surnames) + rng.choice(pools.zh_given), []


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def make_example(rng: random.Random, pools: Pools, lang: str) -> dict:
    """One message and its target record, with the style and hard-case tags in ``meta``."""
    en = lang == "en"
    P = pools.en if en else pools.zh
    rates = pools.rates
    style = _pick(rng, STYLES)
    tags: list[str] = [f"style:{style}"]
    customer, name_tags = _name(rng, pools, lang)
    if en:
        product, measure = rng.choice(pools.en_products), ""
        cities = pools.en_cities
    else:
        product, measure = rng.choice(pools.zh_products)
        cities = pools.zh_cities
    city = rng.choice(cities)
    quantity = (
        rng.choice([1, 1, 1, 1, 2, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 24, 30, 50])
        if rng.random() < 0.5
        else rng.randint(1, 20)
    )

    # Which fields are missing (RATES: a share of messages miss one; never the product), and whether the message
    # says so ("address to follow") or silently leaves it out.
    missing = rng.choice(["customer", "quantity", "city"]) if rng.random() < rates["missing"] else None
    record = {"customer": customer, "product": product, "quantity": quantity, "city": city}
    silent = False
    if missing:
        record[missing] = None
        silent = rng.random() < 1 / 3
        tags += [f"missing:{missing}"] + (["silent"] if silent else [])
    else:
        tags += name_tags
    behalf = record["customer"] is not None and rng.random() < rates["on_behalf"]
    fix_q = record["quantity"] is not None and style != "form" and rng.random() < rates["correction"]
    fix_c = record["city"] is not None and style != "form" and rng.random() < rates["correction"]
    number = str(rng.randint(1000, 99999))
    writer = customer
    while writer == customer:
        writer = _name(rng, pools, lang)[0]
    values = {"c": customer, "writer": writer, "p": product, "m": measure, "city": city, "n": number}
    if en:
        values["pp"] = en_uncounted(product)

    def fill(template: str, **more: str) -> str:
        if en and any(k in template for k in ("{qp}", "{wqp}", "{pp}")):
            tags.append("inflected")
        return template.format(**values, **more)

    def quantity_values(template: str) -> dict[str, str]:
        """{q} (and {qp}, {w}, {wqp} for corrections), in digits or words."""
        natural = "{qp}" in template or "{wqp}" in template
        q_text, words = _quantity_text(
            rng, quantity, lang, before_measure="{q}{m}" in template, rate=rates["number_words"]
        )
        if q_text == "a dozen" and not natural:
            q_text = "twelve"
        out = {"q": q_text, "qp": en_counted(product, quantity, q_text) if en else ""}
        if fix_q:
            wrong = rng.choice([w for w in range(1, 21) if w != quantity])
            w_text, w_words = _quantity_text(
                rng, wrong, lang, before_measure="{w}{m}" in template, rate=rates["number_words"]
            )
            if w_text == "a dozen" and not natural:
                w_text = "twelve"
            out |= {"w": w_text, "wqp": en_counted(product, wrong, w_text) if en else ""}
            words = words or w_words
        if words:
            tags.append("number_words")
        return out

    chat, form = style == "chat", style == "form"
    label_sep = rng.choice(EN_LABEL_SEPS if en else ZH_LABEL_SEPS)

    def line(kind: str, value: str) -> str:
        return f"{rng.choice(P['label_' + kind])}{label_sep}{value}"

    # --- the name ----------------------------------------------------------------------------------------------
    name_part: str | None = None
    signature: str | None = None
    if record["customer"] is None:
        if not silent:
            if form:
                name_part = line("name", rng.choice(P["form_missing_name"] + P["form_missing"]))
            else:
                name_part = rng.choice(P["chat_name_missing"] if chat else P["name_missing"])
    elif behalf:
        tags.append("on_behalf")
        name_part = fill(rng.choice(P["name_behalf"]))
        if (
            style == "email" and rng.random() < 0.5
        ):  # the writer signs: a second name that is not the customer
            signature = rng.choice(P["sign"]).format(c=writer)
    elif form:
        name_part = line("name", customer)
    elif chat:
        name_part = fill(rng.choice(P["chat_name"]))
    elif style == "email" and rng.random() < 0.7:
        signature = fill(rng.choice(P["sign"]))
    else:
        name_part = fill(rng.choice(P["name"]))

    # --- the product and the quantity ----------------------------------------------------------------------------
    order_lines: list[str] = []
    if form:
        shown = product if not en or rng.random() < 0.6 else values["pp"]
        order_lines.append(line("product", shown))
        if record["quantity"] is not None:
            tmpl = "{q}{m}" if not en and rng.random() < 0.5 else "{q}"
            order_lines.append(line("qty", tmpl.format(m=measure, **quantity_values(tmpl))))
        elif not silent:
            order_lines.append(line("qty", rng.choice(P["form_missing"])))
        if en and shown != product:
            tags.append("inflected")
    else:
        if record["quantity"] is None:
            pool = (
                ("chat_silent" if chat else "order_silent")
                if silent
                else ("chat_noqty" if chat else "order_noqty")
            )
            template = rng.choice(P[pool])
            order = fill(template)
        else:
            if fix_q:
                tags.append("correction:quantity")
                template = rng.choice(P["order_fix"])
            elif not en and quantity == 1 and rng.random() < 0.3:
                template = rng.choice(P["order_one"])
            else:
                template = rng.choice(P["chat_order"] if chat else P["order"])
            order = fill(template, **quantity_values(template))
        order_lines.append(order)

    # --- the city ------------------------------------------------------------------------------------------------
    city_part: str | None = None
    if record["city"] is None:
        if not silent:
            city_part = (
                line("city", rng.choice(P["form_missing"]))
                if form
                else (rng.choice(P["chat_city_missing"] if chat else P["city_missing"]))
            )
    elif form:
        city_part = line("city", city)
    elif fix_c:
        tags.append("correction:city")
        wrong, other = rng.sample([c for c in cities if c != city], 2)
        city_part = fill(rng.choice(P["chat_city_fix"] if chat else P["city_fix"]), w=wrong, o=other)
    else:
        city_part = fill(rng.choice(P["chat_city"] if chat else P["city"]))

    extra = None
    if rng.random() < (0.3 if form else 0.0 if chat else 0.2):
        extra = fill(rng.choice(P["form_extra"] if form else P["extra"]))
        tags.append("extra")

    # --- the message, in its style -------------------------------------------------------------------------------
    sep = " " if en else ""
    if form:
        lines = [x for x in [name_part, *order_lines, city_part, extra] if x]
        if rng.random() < 0.3:
            rng.shuffle(lines)
        header = fill(rng.choice(P["form_header"]))
        message = "\n".join([header, *lines] if header else lines)
    elif chat:
        parts = [x for x in [name_part, *order_lines, city_part] if x]
        rng.shuffle(parts)
        if not en:  # colloquial Chinese: sentence particles after the clauses
            parts = [p + rng.choice(PARTICLES) for p in parts]
        joiner = rng.choice([" ", ", ", " - ", "\n"] if en else ["，", "，", " ", "\n"])
        message = joiner.join(
            x for x in [rng.choice(P["chat_open"]), *parts, rng.choice(P["chat_close"])] if x
        )
    else:
        clauses = [x for x in [name_part, *order_lines, city_part, extra] if x]
        rng.shuffle(clauses)
        if style == "email":
            head = [fill(rng.choice(P["subject"]))] if rng.random() < 0.8 else []
            body = sep.join(clauses)
            sign = signature or rng.choice(P["sign_anon"])
            gap = rng.choice(["\n", "\n\n"])
            message = gap.join([*head, rng.choice(P["greet"]), body, sign])
        else:
            message = sep.join(x for x in [rng.choice(P["open"]), *clauses, rng.choice(P["close"])] if x)
    if en and rng.random() < (0.6 if chat else 0.08 if style == "plain" else 0.0):
        message = message.lower()
        tags.append("lowercase")
        # case is not part of the contract (the scorer folds it): the record copies the values as written
        record = {k: v.lower() if isinstance(v, str) else v for k, v in record.items()}
    answer = json.dumps({k: record[k] for k in FIELDS}, ensure_ascii=False)
    return {
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": message},
            {"role": "assistant", "content": answer},
        ],
        "meta": {"lang": lang, "tags": sorted(set(tags))},
    }


def generate_split(split: str, n: int, seed: int, taken: set[str]) -> list[dict]:
    """``n`` unique examples for ``split``; ``taken`` holds user messages already used by other splits."""
    rng = random.Random(f"{seed}:{split}")
    pools = Pools(split)
    n_zh = round(n * ZH_SHARE[split])
    langs = ["zh"] * n_zh + ["en"] * (n - n_zh)
    rng.shuffle(langs)
    out = []
    for i, lang in enumerate(langs):
        for _ in range(1000):
            ex = make_example(rng, pools, lang)
            msg = ex["messages"][1]["content"]
            if msg not in taken:
                break
        else:  # pragma: no cover - the pools are far larger than the split sizes
            raise RuntimeError(f"could not draw a unique message for {split} #{i}")
        taken.add(msg)
        ex["meta"] = {"id": f"{split}-{i:05d}", **ex["meta"]}
        out.append(ex)
    return out


def generate(seed: int = 0) -> dict[str, str]:
    """The three JSONL files as text, keyed by split name."""
    taken: set[str] = set()
    files = {}
    for split, n in SPLITS.items():
        rows = generate_split(split, n, seed, taken)
        files[split] = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    parser.add_argument(
        "--check", action="store_true", help="fail if the files on disk differ from a fresh run"
    )
    args = parser.parse_args(argv)
    files = generate(args.seed)
    if args.check:
        stale = [
            s for s, text in files.items() if (args.out / f"{s}.jsonl").read_text(encoding="utf-8") != text
        ]
        if stale:
            print(f"out of date: {stale}; rerun `python data/generate.py`", file=sys.stderr)
            return 1
        print("data/extraction is up to date")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for split, text in files.items():
        (args.out / f"{split}.jsonl").write_bytes(text.encode("utf-8"))
        print(f"{split}: {text.count(chr(10))} records -> {args.out.name}/{split}.jsonl")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
