"""Seeded generator for the course's extraction data set: free-text orders (English and Chinese) -> JSON.

Run from the repository root:

    python data/generate.py            # writes data/extraction/{train,validation,test}.jsonl
    python data/generate.py --check    # regenerates in memory and fails if the committed files differ

Only the standard library is used, and the output depends on nothing but ``--seed``: running it again
gives identical bytes. English phrasings and customer names are cut into three disjoint parts, so
validation and test messages use English wordings and names that never appear in training; products,
cities, Chinese wordings and Chinese surnames are shared by all splits (``Pools`` and data/README.md say why).
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
ZH_SHARE = {"train": 0.4, "validation": 0.3, "test": 0.3}
# How often each hard case appears (see the data card). Tuned so that the embedded 135M model can learn
# the task in a few minutes of CPU training while every hard case stays well represented in every split.
# The training split holds twice as many hard cases as validation and test: rare cases are learned from
# examples, and a few-minute run sees only a few hundred; the test split keeps the realistic mix.
RATES = {  # split -> (missing, correction, number words)
    "train": {"missing": 0.3, "correction": 0.14, "number_words": 0.3},
    "validation": {"missing": 0.15, "correction": 0.07, "number_words": 0.15},
    "test": {"missing": 0.15, "correction": 0.07, "number_words": 0.15},
}
# missing: a message does not give one field (customer, quantity or city) and says so -> null
# correction: the quantity, or the city, is corrected or comes with a distractor (each at this rate)
# number_words: a quantity <= 20 is written in words
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

# --------------------------------------------------------------------------------------------------
# Phrase pools. {c} customer, {p} product, {q} quantity, {m} measure word (Chinese), {city} city,
# {w} a wrong candidate (the quantity or city the customer takes back), {o} an unrelated other city.
# English pools are cut 70/15/15 like the names (test wordings unseen in training); Chinese ones are shared.
# --------------------------------------------------------------------------------------------------
EN = {
    "name_missing": [
        "I'd prefer not to give my name.", "No name needed.", "Don't put a name on it.", "Keep my name off it.",
        "Nameless order, please.", "I'm not giving a name.", "Customer name: none.", "My name doesn't matter.",
        "Buyer: anonymous.", "Without a name, please.", "You don't need my name.", "Name left out on purpose.",
        "No name on this one.", "I'd rather stay anonymous.", "Guest order.", "Name withheld.",
        "Anonymous buyer here.", "Skip the name, please.", "No account name for now.", "Ordering as a guest.",
        "Leave the name blank.", "No name given.", "I won't share my name.", "Unnamed order.",
    ],
    "city_missing": [
        "Not sure of the city yet.", "The address comes later.", "City to be decided.", "I'll tell you where later.",
        "No delivery city yet.", "Destination: unknown.", "I haven't picked the city yet.", "City still open.",
        "The shipping city will follow.", "Address unknown at the moment.", "Don't know where to send it yet.",
        "City: not decided.",
        "Delivery address to follow.", "I'll send the city later.", "Address: to be confirmed.",
        "Not sure where to ship yet.", "Shipping city TBD.", "Will tell you the destination later.",
        "Destination pending.", "I'll confirm the delivery city soon.", "The city is unknown for now.",
        "Where to ship: still deciding.", "Ship-to city to follow.", "Delivery location not decided yet.",
    ],
    "name": [
        "This is {c}.", "My name is {c}.", "{c} here.", "Hi, {c} speaking.", "Customer: {c}.", "From {c}:",
        "Hello, I'm {c}.", "Name: {c}.", "It's {c} again.", "Order for {c}.", "{c} writing.",
        "Put it under {c}.", "Account holder: {c}.", "Signed, {c}.", "You can reach me as {c}.",
        "Booking name {c}.", "The order is for {c}.", "Regards, {c}.", "I am {c}.", "Buyer: {c}.",
    ],
    "order": [
        "I'd like to order {q} x {p}.", "Please send {q} units of {p}.", "Order: {p}, qty {q}.",
        "Can I get {q} of the {p}?", "I need {q} {p} units.", "{q} x {p}, please.", "Item: {p} (quantity {q}).",
        "Could you ship {q} pieces of {p}?", "Add {q} of {p} to my order.", "I want {q} {p} items.",
        "Requesting {p} x{q}.", "Put me down for {q} of the {p}.", "Quantity {q}, product {p}.",
        "I'll take {q} units of the {p}.", "We need {q} of your {p}.", "Reserve {q} {p} units for me.",
        "{p} - {q} units.", "Please book {q} x {p} for me.", "Looking to buy {q} of the {p}.",
        "Send over {q} {p} units.",
    ],
    "order_noqty": [
        "I'd like some {p}, quantity not decided.", "The {p}, please; I'll confirm how many.",
        "Some {p} for me, amount later.", "Order the {p} for me; the number comes later.",
        "Please reserve the {p}, quantity open.", "I need the {p}, but not sure how many.", "{p}: quantity TBD.",
        "I'm after the {p}, how many I'll say later.", "Can you put the {p} aside? Amount to follow.",
        "We want the {p}; quantity unknown.", "{p} please, number not fixed yet.", "I'll buy the {p}, amount unclear.",
        "I'd like to order the {p}, not sure how many yet.", "Please send the {p}; quantity to be confirmed.",
        "Interested in the {p}, will confirm the amount later.", "Order: {p}, qty TBD.",
        "I want the {p}, amount undecided.", "Item: {p}, quantity unknown for now.",
        "Put me down for the {p}, number to follow.", "Can I order the {p}? I'll tell you how many later.",
        "Requesting the {p}, count not decided.", "Looking at the {p}, quantity later.",
        "We'd like the {p}; how many is still open.", "Add the {p} to my order, amount pending.",
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
        ],
        "right_first": [
            "Make it {q} {p} units, not {w}.", "{q} x {p}, not {w} as I said before.",
            "Send {q} of the {p}; the {w} I mentioned was a typo.", "Please ship {q} {p} units rather than {w}.",
            "I need {q} {p} units (earlier I wrote {w}, that was wrong).",
            "{q} units of {p} - ignore the {w} from my last message.", "Update: {q} of the {p} instead of {w}.",
        ],
        "wrong_negated_first": [
            "Not {w} but {q} units of {p}, please.", "Not {w}, I need {q} of the {p}.", "Forget {w}: {q} x {p}.",
            "Scratch {w}; I'll take {q} of the {p}.", "{w} {p} units is wrong, make it {q}.",
            "Ignore the {w}: {q} of the {p} is right.",
        ],
    },
    "city": [
        "Ship to {city}.", "Deliver it to {city}, please.", "I'm in {city}.", "Address: {city}.",
        "Send it to {city}.", "Shipping city: {city}.", "Destination: {city}.", "I live in {city}.",
        "It goes to {city}.", "Please deliver to {city}.", "Delivery to {city}.", "Our office is in {city}.",
        "City: {city}.", "Bring it to {city}.", "Post it to {city}.", "Drop-off in {city}.",
        "The parcel goes to {city}.", "Based in {city}.", "Deliver in {city}.", "To {city}, thanks.",
    ],
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
        ],
        "distractor": [  # another city is mentioned, but not as the destination
            "My friend in {o} recommended it; ship to {city}.", "I'm visiting {o}, but deliver to {city}.",
            "Ship to {city}; I'm flying to {o} next week.", "Deliver to {city}. My sister in {o} loves your shop.",
            "I work in {o} but live in {city}; ship to {city}.", "Send it to {city} (I saw your ad in {o}).",
            "Saw your stand in {o}. Deliver to {city}.",
        ],
    },
    "open": ["", "", "", "Hi!", "Hello,", "Good morning.", "Hey there.", "Quick order:", "Hi team,", "Dear shop,",
             "Hello again.", "Greetings.", "Morning!", "Hiya,", "Evening."],
    "close": ["", "", "", "Thanks!", "Thank you.", "Cheers.", "Thanks a lot.", "Best wishes.", "Much appreciated.",
              "Thanks in advance.", "Have a nice day.", "Kind regards.", "Talk soon.", "Many thanks."],
}
ZH = {
    "name_missing": [
        "匿名下单。", "不留名了。", "游客下单。", "姓名保密。", "名字就不写了。", "匿名购买。", "不方便留名字。",
        "姓名暂不提供。", "无需署名。", "匿名，谢谢。", "名字先不留。", "不写姓名了。",
    ],
    "city_missing": [
        "地址稍后告诉你。", "收货城市待定。", "寄到哪里还没定。", "城市之后再说。", "送货地址待确认。", "目的地未定。",
        "地址晚点发你。", "城市还没想好。", "收货地待定。", "发哪里回头再说。", "地址暂不确定。", "城市以后补。",
    ],
    "name": [
        "我是{c}。", "我叫{c}。", "{c}下单。", "您好，我是{c}。", "客户：{c}。", "姓名：{c}。", "这里是{c}。",
        "订购人{c}。", "{c}来下单。", "收件人：{c}。", "我姓名是{c}。", "买家：{c}。", "下单人：{c}。",
        "联系人{c}。", "帮{c}下个单。", "{c}，老客户了。", "本人{c}。", "落款：{c}。", "{c}留言。",
    ],
    "order": [
        "我想订{q}{m}{p}。", "请帮我买{p}{q}{m}。", "订购{p}，数量{q}。", "{p}要{q}{m}。", "来{q}{m}{p}。",
        "需要{q}{m}{p}。", "给我拿{q}{m}{p}。", "购买{p}，共{q}{m}。", "我要买{q}{m}{p}。", "{p}订{q}{m}。",
        "下单{p}×{q}。", "麻烦寄{q}{m}{p}。", "预订{q}{m}{p}。", "{p}数量：{q}。", "帮我订{q}{m}{p}。",
        "想要{q}{m}{p}。", "我们需要{p}{q}{m}。", "采购{q}{m}{p}。", "{p}来{q}{m}。",
    ],
    "order_noqty": [
        "我想订{p}，数量还没定。", "要{p}，数量稍后确认。", "订购{p}，数量待定。", "想买{p}，要几{m}还不确定。",
        "{p}先下单，数量之后再说。", "购买{p}，数量未知。", "需要{p}，具体多少回头告诉你。", "预订{p}，数量待确认。",
        "{p}要一些，数量晚点定。", "我要{p}，数量还在商量。", "下单{p}，数量以后补。", "采购{p}，数量未定。",
    ],
    "order_fix": [
        "要{w}{m}{p}，不对，改成{q}{m}。", "{p}{w}{m}……抱歉，是{q}{m}，不是{w}{m}。", "订{w}{m}{p}，哦不，{q}{m}。",
        "{p}要{q}{m}，不是{w}{m}。", "我说错了，{p}不是{w}{m}，是{q}{m}。", "{p}数量{w}，更正为{q}。",
        "先订{w}{m}{p}，算了，改为{q}{m}。", "{p}从{w}{m}改成{q}{m}。", "买{w}{m}{p}，不，{q}{m}就好。",
        "{p}：{w}{m}，更正，{q}{m}。", "刚才说{w}{m}{p}，应该是{q}{m}。", "{p}{q}{m}（之前写的{w}{m}作废）。",
    ],
    "city": [
        "寄到{city}。", "送到{city}，谢谢。", "我在{city}。", "收货城市：{city}。", "发往{city}。", "地址在{city}。",
        "请送到{city}。", "目的地{city}。", "快递到{city}。", "人在{city}。", "城市：{city}。", "发到{city}就行。",
        "送货地点{city}。", "寄往{city}。", "收货地{city}。", "我住{city}。", "送至{city}。", "配送到{city}。",
        "麻烦发{city}。",
    ],
    "city_fix": [
        "寄到{w}，哦不，寄到{city}。", "送到{w}……抱歉，是{city}。", "寄到{city}，不是{w}。", "地址{w}，更正：{city}。",
        "我从{w}搬到了{city}，寄{city}。", "不是{w}，是{city}。", "城市改一下，从{w}改成{city}。",
        "我朋友在{o}推荐的，寄到{city}。", "我在{o}出差，但请寄到{city}。", "送到{city}（以前住{w}）。",
        "发往{city}，{w}的旧地址作废。", "目的地{w}，不对，{city}。",
    ],
    "open": ["", "", "", "你好，", "您好！", "在吗？", "老板好，", "早上好，", "你好呀，", "麻烦一下，", "打扰了，",
             "嗨，", "晚上好，", "客服你好，", "亲，"],
    "close": ["", "", "", "谢谢！", "多谢。", "辛苦了。", "谢谢啦。", "麻烦了。", "感谢！", "谢谢您。", "辛苦啦！",
              "拜托了。", "尽快哦。", "先谢过。"],
}
# fmt: on


def _cut(items: list | dict[str, list], split: str) -> list:
    """The part of ``items`` a split may use: first 70 % train, next 15 % validation, last 15 % test.

    A dict of families (``{"fix_after": [...], ...}``) is cut family by family, so every split gets every family.
    """
    if isinstance(items, dict):
        return [item for family in items.values() for item in _cut(family, split)]
    n = len(items)
    a, b = round(n * 0.70), round(n * 0.85)
    return {"train": items[:a], "validation": items[a:b], "test": items[b:]}[split]


def _cut_names(names: list[str], split: str) -> list[str]:
    """``_cut`` of a fixed shuffle of ``names``: each split gets common and rare names alike."""
    return _cut(random.Random("names").sample(names, len(names)), split)


def _en_number(n: int) -> str:
    return EN_NUMBER_WORDS[n]


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
        self.en = {k: _cut(v, split) for k, v in EN.items()}
        # Chinese phrasings are shared by all splits: the embedded model (SmolLM2, trained on English) knows too
        # little Chinese to read a wording it never saw; Chinese entity values are still split (see above).
        self.zh = dict(ZH)
        self.en_first, self.en_last = _cut_names(EN_FIRST, split), _cut_names(EN_LAST, split)
        # Products and cities form the shop's catalog and delivery area: a closed set, known when the model is
        # trained, so all splits share them. Customer names are open-ended, so they are cut like the phrasings.
        self.en_products, self.en_cities = EN_PRODUCTS, EN_CITIES
        # Chinese surnames are a closed class (a few hundred cover nearly everyone), so every split draws from
        # the whole list; given names are cut, so full test names are still never seen in training.
        self.zh_surnames, self.zh_given = ZH_SURNAMES, _cut_names(ZH_GIVEN, split)
        self.zh_products, self.zh_cities = ZH_PRODUCTS, ZH_CITIES


def _quantity_text(
    rng: random.Random, q: int, lang: str, *, before_measure: bool, rate: float
) -> tuple[str, bool]:
    """Digits most of the time, words (English or Chinese) at the split's rate."""
    if q <= 20 and rng.random() < rate:
        return (_en_number(q) if lang == "en" else _zh_number(q, before_measure=before_measure)), True
    return str(q), False


def make_example(rng: random.Random, pools: Pools, lang: str) -> dict:
    """One message and its target record, with the hard-case tags in ``meta``."""
    P = pools.en if lang == "en" else pools.zh
    tags: list[str] = []
    if lang == "en":
        customer = f"{rng.choice(pools.en_first)} {rng.choice(pools.en_last)}"
        product, measure = rng.choice(pools.en_products), ""
        cities = pools.en_cities
    else:
        customer = rng.choice(pools.zh_surnames) + rng.choice(pools.zh_given)
        product, measure = rng.choice(pools.zh_products)
        cities = pools.zh_cities
    city = rng.choice(cities)
    quantity = (
        rng.choice([1, 1, 2, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 24, 30, 50])
        if rng.random() < 0.5
        else rng.randint(1, 20)
    )

    # Which fields are missing (RATES: a share of messages miss one; never the product).
    missing = rng.choice(["customer", "quantity", "city"]) if rng.random() < pools.rates["missing"] else None
    record = {"customer": customer, "product": product, "quantity": quantity, "city": city}
    if missing:
        record[missing] = None
        tags.append(f"missing:{missing}")

    clauses = []
    if record["customer"] is not None:
        clauses.append(rng.choice(P["name"]).format(c=customer))
    else:  # the message says that it gives no name, as it says "quantity to be confirmed"
        clauses.append(rng.choice(P["name_missing"]))

    # The order clause: plain, without quantity, or with a corrected quantity.
    if record["quantity"] is None:
        order = rng.choice(P["order_noqty"]).format(p=product, m=measure)
    else:
        fix = rng.random() < pools.rates["correction"]
        template = rng.choice(P["order_fix"] if fix else P["order"])
        before_measure = "{q}{m}" in template
        q_text, words = _quantity_text(
            rng, quantity, lang, before_measure=before_measure, rate=pools.rates["number_words"]
        )
        if fix:
            wrong = rng.choice([w for w in range(1, 21) if w != quantity])
            w_text, w_words = _quantity_text(
                rng, wrong, lang, before_measure="{w}{m}" in template, rate=pools.rates["number_words"]
            )
            words = words or w_words
            tags.append("correction:quantity")
            order = template.format(p=product, m=measure, q=q_text, w=w_text)
        else:
            order = template.format(p=product, m=measure, q=q_text)
        if words:
            tags.append("number_words")
    clauses.append(order)

    if record["city"] is not None:
        if rng.random() < pools.rates["correction"]:
            wrong, other = rng.sample([c for c in cities if c != city], 2)
            clauses.append(rng.choice(P["city_fix"]).format(city=city, w=wrong, o=other))
            tags.append("correction:city")
        else:
            clauses.append(rng.choice(P["city"]).format(city=city))
    else:
        clauses.append(rng.choice(P["city_missing"]))

    rng.shuffle(clauses)
    sep = " " if lang == "en" else ""
    parts = [rng.choice(P["open"]), *clauses, rng.choice(P["close"])]
    message = sep.join(p for p in parts if p)
    answer = json.dumps({k: record[k] for k in FIELDS}, ensure_ascii=False)
    return {
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": message},
            {"role": "assistant", "content": answer},
        ],
        "meta": {"lang": lang, "tags": sorted(tags)},
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
