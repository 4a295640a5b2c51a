//! Chinese titles broken the way a designer would (issue 17): a table written before the engine,
//! each title set in a shipped template's title box. `|` marks word boundaries in the title (a
//! line may only end at one, or at a space); each answer marks the line breaks with `/`, and
//! every answer a designer would accept is listed. The engine must match an answer for at
//! least 90 % of the titles, and never break inside a word or leave one character alone.

mod common;
use coverforge::layout::text::{wrap, wrap_balanced, Measurer};

/// A shipped template's title box: (name, em size px, width px, max lines, balanced).
type Box = (&'static str, f32, f32, usize, bool);
const DOUYIN: Box = ("douyin-9x16", 96.0, 860.0, 3, false);
const LANDSCAPE: Box = ("landscape-16x9", 64.0, 720.0, 3, false);
const THUMB: Box = ("thumb-320x180", 20.0, 296.0, 2, false);
const THUMB_LINK: Box = ("thumb-320x180 with a QR code", 20.0, 184.0, 2, false);

const TABLE: &[(Box, &str, &[&str])] = &[
    (
        DOUYIN,
        "大雄兔|的|森林|冒险|：|三分钟|看完",
        &["大雄兔的森林/冒险：三分钟看完", "大雄兔的/森林冒险：/三分钟看完"],
    ),
    (DOUYIN, "三分钟|学会|红烧肉|，|零|失败", &["三分钟学会/红烧肉，零失败"]),
    (
        DOUYIN,
        "周末|去|哪儿|？|北京|郊区|小众|露营地|推荐",
        &["周末去哪儿？/北京郊区小众/露营地推荐", "周末去哪儿？/北京郊区/小众露营地推荐"],
    ),
    (
        DOUYIN,
        "新手|必看|：|手机|拍出|电影感|的|五个|技巧",
        &["新手必看：/手机拍出电影感的/五个技巧", "新手必看：/手机拍出/电影感的五个技巧"],
    ),
    (DOUYIN, "我|在|云南|的|小镇|住|了|一个月", &["我在云南的小镇/住了一个月", "我在云南的/小镇住了一个月"]),
    (DOUYIN, "自制|酸奶|的|正确|方法", &["自制酸奶的/正确方法"]),
    (DOUYIN, "这家|店|的|牛肉面|真的|太|好吃|了", &["这家店的牛肉面/真的太好吃了"]),
    (DOUYIN, "人生|第一次|跳伞|是|什么|体验", &["人生第一次跳伞/是什么体验", "人生第一次/跳伞是什么体验"]),
    (DOUYIN, "月薪|三千|如何|存下|第一个|十万", &["月薪三千如何/存下第一个十万"]),
    (DOUYIN, "挑战|24小时|只|吃|便利店", &["挑战24小时/只吃便利店"]),
    (DOUYIN, "iPhone| |16| |Pro| |深度|体验|：|值不值得|买", &["iPhone 16 Pro/深度体验：/值不值得买"]),
    (DOUYIN, "一口气|看完|《流浪地球》", &["一口气看完/《流浪地球》"]),
    (
        DOUYIN,
        "医生|提醒|：|这|三种|水果|空腹|别|吃",
        &["医生提醒：这三种/水果空腹别吃", "医生提醒：/这三种水果/空腹别吃"],
    ),
    (DOUYIN, "为什么|年轻人|都|爱|去|菜市场", &["为什么年轻人/都爱去菜市场", "为什么年轻人都/爱去菜市场"]),
    (DOUYIN, "两个人|的|旅行|，|从|计划|开始", &["两个人的旅行，/从计划开始"]),
    (
        DOUYIN,
        "深夜|食堂|｜|一碗|热汤面|的|治愈力",
        &["深夜食堂｜/一碗热汤面的/治愈力", "深夜食堂｜一碗/热汤面的治愈力"],
    ),
    (DOUYIN, "猫咪|为什么|总是|半夜|跑酷", &["猫咪为什么/总是半夜跑酷", "猫咪为什么总是/半夜跑酷"]),
    (DOUYIN, "在|上海|租房|的|第一年|，|我|学会|了|这些", &["在上海租房的/第一年，/我学会了这些"]),
    (DOUYIN, "健身|三个月|，|体重|下降|了|十|公斤", &["健身三个月，/体重下降了十公斤"]),
    (DOUYIN, "小学生|都|能|听懂|的|相对论", &["小学生都能听懂的/相对论", "小学生都能/听懂的相对论"]),
    (DOUYIN, "2025年|最|值得|买|的|十款|耳机", &["2025年最值得买的/十款耳机"]),
    (DOUYIN, "春节|回家|，|妈妈|做|了|一桌子|菜", &["春节回家，/妈妈做了一桌子菜"]),
    (DOUYIN, "不要|再|这样|洗碗|了|！|细菌|超标|十倍", &["不要再这样/洗碗了！/细菌超标十倍"]),
    (DOUYIN, "北京|胡同|里|的|百年|老店", &["北京胡同里的/百年老店"]),
    (DOUYIN, "一个人|也|要|好好|吃饭", &["一个人也要/好好吃饭", "一个人/也要好好吃饭"]),
    (DOUYIN, "揭秘|：|外卖|平台|的|定价|逻辑", &["揭秘：外卖平台的/定价逻辑", "揭秘：/外卖平台的/定价逻辑"]),
    (DOUYIN, "30天|挑战|每天|早起|五点", &["30天挑战/每天早起五点", "30天挑战每天/早起五点"]),
    (DOUYIN, "老板|说|这道|菜|要|排队|三小时", &["老板说这道菜/要排队三小时"]),
    (
        DOUYIN,
        "考研|上岸|经验|分享|：|时间表|附上",
        &["考研上岸/经验分享：/时间表附上", "考研上岸经验/分享：时间表附上"],
    ),
    (DOUYIN, "奶奶|的|手擀面|，|满满|的|回忆", &["奶奶的手擀面，/满满的回忆"]),
    (DOUYIN, "别|再|乱买|护肤品|了|！|看完|这篇|再说", &["别再乱买/护肤品了！/看完这篇再说"]),
    (DOUYIN, "一分钟|教|你|辨别|真假|蜂蜜", &["一分钟教你/辨别真假蜂蜜"]),
    (DOUYIN, "地铁|上|遇到|的|暖心|一幕", &["地铁上遇到的/暖心一幕"]),
    (DOUYIN, "零基础|也|能|学会|的|吉他|弹唱", &["零基础也能学会的/吉他弹唱", "零基础也能/学会的吉他弹唱"]),
    (DOUYIN, "凌晨|四点|的|菜市场|有|多|热闹", &["凌晨四点的菜市场/有多热闹", "凌晨四点的/菜市场有多热闹"]),
    (DOUYIN, "Vlog|｜|在|大理|的|慢|生活", &["Vlog｜/在大理的慢生活", "Vlog｜在大理的/慢生活"]),
    (
        LANDSCAPE,
        "第一次|带|爸妈|出国|旅行|，|他们|的|反应|让|我|意外",
        &["第一次带爸妈出国旅行，/他们的反应让我意外"],
    ),
    (
        LANDSCAPE,
        "程序员|转行|做|厨师|是|一种|什么|体验",
        &["程序员转行做厨师/是一种什么体验", "程序员转行做厨师是/一种什么体验"],
    ),
    (LANDSCAPE, "从零开始|学做|蛋糕|：|新手|也|能|成功|的|戚风", &["从零开始学做蛋糕：/新手也能成功的戚风"]),
    (
        LANDSCAPE,
        "我|花|了|一年|时间|走遍|中国|最美|的|十座|古城",
        &["我花了一年时间走遍/中国最美的十座古城", "我花了一年时间/走遍中国最美的十座古城"],
    ),
    (LANDSCAPE, "东京|自由行|攻略", &["东京自由行攻略"]),
    (LANDSCAPE, "这些|家电|千万|别|买|，|后悔|一辈子", &["这些家电千万别买，/后悔一辈子"]),
    (
        THUMB,
        "周末|在家|也|能|做|的|简单|早餐|合集|推荐",
        &["周末在家也能做的/简单早餐合集推荐", "周末在家也能做的简单/早餐合集推荐"],
    ),
    (THUMB_LINK, "夏天|最|解暑|的|五种|饮品", &["夏天最解暑的/五种饮品"]),
    (THUMB_LINK, "海边|日落|延时|摄影|教程", &["海边日落/延时摄影教程", "海边日落延时/摄影教程"]),
];

/// Written after the engine's weights were set and never tuned on: how the rules carry to
/// titles they were not fitted to (douyin box).
const HELD_OUT: &[(Box, &str, &[&str])] = &[
    (DOUYIN, "夏天|必备|的|五款|防晒霜", &["夏天必备的/五款防晒霜"]),
    (DOUYIN, "第一次|做饭|就|成功|了", &["第一次做饭/就成功了"]),
    (DOUYIN, "程序员|的|一天|是|怎样|的", &["程序员的一天/是怎样的"]),
    (DOUYIN, "五分钟|搞定|早餐|，|营养|又|好吃", &["五分钟搞定早餐，/营养又好吃"]),
    (DOUYIN, "这个|城市|的|夜晚|太|美|了", &["这个城市的/夜晚太美了"]),
    (DOUYIN, "毕业|十年|后|的|同学|聚会", &["毕业十年后的/同学聚会"]),
    (DOUYIN, "如何|在家|做出|餐厅级|牛排", &["如何在家做出/餐厅级牛排"]),
    (DOUYIN, "我的|极简|生活|：|只|留下|一百件|物品", &["我的极简生活：/只留下一百件物品"]),
    (DOUYIN, "爸爸|第一次|用|智能手机", &["爸爸第一次/用智能手机", "爸爸第一次用/智能手机"]),
    (DOUYIN, "一碗|面|的|温度", &["一碗面的温度"]),
    (DOUYIN, "去|西藏|之前|你|需要|知道|的|事", &["去西藏之前/你需要知道的事"]),
    (DOUYIN, "月入|过万|的|副业|有|哪些", &["月入过万的/副业有哪些"]),
    (DOUYIN, "全网|最|简单|的|蛋炒饭|教程", &["全网最简单的/蛋炒饭教程"]),
    (DOUYIN, "带着|猫咪|去|旅行|是|什么|体验", &["带着猫咪去旅行/是什么体验"]),
    (DOUYIN, "考试|前|一晚|应该|做|什么", &["考试前一晚/应该做什么"]),
    (DOUYIN, "手把手|教|你|剪辑|短视频", &["手把手教你/剪辑短视频"]),
    (DOUYIN, "他|用|三年|时间|造|了|一艘|船", &["他用三年时间/造了一艘船"]),
    (DOUYIN, "冬天|最|适合|吃|的|火锅", &["冬天最适合/吃的火锅", "冬天最适合吃的/火锅"]),
    (DOUYIN, "一个人|住|也|要|好好|生活", &["一个人住/也要好好生活", "一个人住也要/好好生活"]),
    (DOUYIN, "原来|这|才|是|正确|的|刷牙|方式", &["原来这才是/正确的刷牙方式"]),
];

#[test]
fn chinese_titles_break_where_a_designer_would() {
    let (score, n, violations) = score(TABLE);
    assert!(n >= 40);
    assert!(violations.is_empty(), "{}", violations.join("\n"));
    assert!(score >= 0.9, "{:.0} % of {n}", score * 100.0);
}

#[test]
fn titles_the_weights_never_saw_break_well_too() {
    // The rules, not the examples: a lower bar than the main table's 90 %. First run (before
    // any change prompted by it): recorded in docs/design.md.
    let (score, n, violations) = score(HELD_OUT);
    assert!(violations.len() <= 1, "{}", violations.join("\n"));
    assert!(score >= 0.8, "{:.0} % of {n} held-out titles", score * 100.0);
}

/// Sets every title of `table` in its box, checks the hard rules, and returns the share that
/// matches an acceptable answer.
fn score(table: &[(Box, &str, &[&str])]) -> (f64, usize, Vec<String>) {
    let env = common::test_env();
    let chain = vec![env.fonts.get("wqy-microhei").unwrap(), env.fonts.get("noto-color-emoji").unwrap()];
    let mut matched = 0;
    let mut misses = Vec::new();
    let mut violations = Vec::new();
    for ((template, size, width, max_lines, balanced), marked, answers) in table {
        let title: String = marked.chars().filter(|&c| c != '|').collect();
        // Char offsets where a line may end: word boundaries and spaces.
        let mut boundaries = vec![0];
        let mut n = 0;
        for c in marked.chars() {
            if c == '|' {
                boundaries.push(n);
            } else {
                n += 1;
            }
        }
        let m = Measurer::new(&chain, *size, 0.0);
        let w = if *balanced {
            wrap_balanced(&title, &m, *width, *max_lines)
        } else {
            wrap(&title, &m, *width, *max_lines)
        };
        assert!(!w.truncated, "{title} ({template}): cut by an ellipsis");
        let lines: Vec<&str> = w.lines.iter().map(|(l, _)| l.as_str()).collect();
        let got = lines.join("/");
        // Where each line break falls, in chars of the title (spaces at breaks are dropped).
        let mut at = 0;
        let chars: Vec<char> = title.chars().collect();
        for (k, line) in lines.iter().enumerate() {
            let count = line.chars().count();
            if line.chars().filter(|c| c.is_alphanumeric()).count() <= 1 {
                violations
                    .push(format!("{title} ({template}): line {k} `{line}` holds one character: {got}"));
            }
            while chars.get(at).is_some_and(|c| c.is_whitespace()) {
                at += 1;
            }
            at += count;
            if k + 1 < lines.len()
                && !(boundaries.contains(&at) || chars.get(at).is_some_and(|c| c.is_whitespace()))
            {
                violations.push(format!("{title} ({template}): a break inside a word: {got}"));
            }
        }
        if answers.contains(&got.as_str()) {
            matched += 1;
        } else {
            misses.push(format!("{title} ({template}): {got}  (expected one of {answers:?})"));
        }
    }
    let score = matched as f64 / table.len() as f64;
    println!("{matched} of {} titles broken as a designer would ({:.0} %)", table.len(), score * 100.0);
    for m in &misses {
        println!("  miss: {m}");
    }
    for v in &violations {
        println!("  rule broken: {v}");
    }
    (score, table.len(), violations)
}
