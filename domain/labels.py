"""The one table of Chinese words people read: every status, event, kind, decision, code and field.

Identifiers stay English in the code, the API and the database; whatever a person reads (console,
PDFs, WeCom, error messages) goes through a lookup here. Every lookup falls back to the raw code and
never raises, so a code added tomorrow shows up as itself until someone names it here (and
``tests/test_labels.py`` fails until they do).

This module is a leaf: it imports nothing of ours, so every other module (enums included) can read
its labels from here. Keys are the codes' string values; a ``StrEnum`` member looks up as its value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

# ---------------------------------------------------------------- statuses

ORDER_STATUS: dict[str, str] = {  # domain/status.py OrderStatus
    "received": "已接收",
    "validated": "已校验",
    "held": "待审核",
    "routed": "已分单",
    "picking": "拣货中",
    "packed": "已打包",
    "shipped": "运输中",
    "delivered": "已签收",
    "completed": "已完成",
    "rejected": "已驳回",
    "cancelled": "已取消",
    "merged": "已合并",
}

PART_STATUS: dict[str, str] = {  # a warehouse part of an order (履约包裹), the redesign's PartStatus
    "picking": "拣货中",
    "held": "待处理",
    "packed": "已打包待放行",
    "shipped": "已发货",
    "delivered": "已签收",
    "returned": "已退回",
    "handed_over": "已交付(无物流跟踪)",
    "cancelled": "已取消",
    "rejected": "已驳回",
}

PARCEL_STATUS: dict[str, str] = {  # one parcel (outbound, re-shipped or returned), the redesign's ShipmentStatus
    "waybilling": "电子面单申请中",
    "held": "面单失败待处理",
    "in_transit": "运输中",
    "delivered": "已签收",
    "returned": "已退回寄件人",
    "not_collected": "客户未寄出",
    "refused": "未能发货",
    "stopped": "已停止",
}

# ---------------------------------------------------------------- timeline events

_TRACKING_EVENT_NAMES = {  # return.<tracking code>: a return parcel's own steps
    "collected": "退件已揽收",
    "in_transit": "退件运输中",
    "arrived": "退件到达网点",
    "out_for_delivery": "退件派送中",
    "signed": "退件已签收入库",
    "delivery_failed": "退件派送失败",
    "returned_to_sender": "退件被退回",
    "exception": "退件运输异常",
}

EVENTS: dict[str, str] = {
    # the order
    "order.received": "订单接收",
    "order.time_ahead": "下单时间超前",
    "order.validated": "校验通过",
    "order.held": "转人工审核",
    "order.routed": "已分单",
    "order.picking": "开始拣货",
    "order.split": "拆分多仓发货",
    "order.wave_joined": "进入波次",
    "order.wave_kept": "留在原波次",
    "order.packed": "拣货打包完成",
    "order.short_picked": "拣货缺货",
    "order.rerouted": "改派仓库",
    "order.released_from_hold": "审核通过, 继续履约",
    "order.released_to_warehouse": "下发仓库",
    "order.shipped": "已发货",
    "order.signed": "已签收",
    "order.delivered": "已签收",
    "order.reshipped": "重新发货",
    "order.not_reshipped": "包裹退回, 不再发货",
    "order.completed": "已完成",
    "order.rejected": "订单驳回",
    "order.intercepted": "风控拦截",
    "order.cancelled": "订单取消",
    # a small team's order (domain/team.py)
    "order.untouched": "超24小时无人处理, 标红并再次提醒",
    "order.touched": "已有人处理, 取消标红",
    # what a person marked on the order in the console (store/order_marks.py)
    "order.remarked": "添加备注",
    "order.flagged": "设置旗帜",
    "order.unflagged": "取消旗帜",
    "order.marked_urgent": "标记加急",
    "order.unmarked_urgent": "取消加急",
    "order.cancel_refused": "取消被拒(已发货)",
    "order.merged": "已合并",
    "order.stuck": "订单卡住(系统故障)",
    "order.retried": "已重试",
    # review tasks
    "review.opened": "创建审核任务",
    "review.escalated": "审核已升级",
    "review.red": "审核超24小时",
    "review.decided": "审核已决定",
    "review.closed": "审核任务关闭",
    # risk and duplicates
    "risk.scanned": "风控扫描",
    "risk.skipped": "免风控(换货/补发单)",
    "duplicate.merged": "合并重复订单",
    "duplicate.merged_into": "并入其他订单",
    "duplicate.unmerged": "重复单已拆出",
    "order.unmerged": "拆回为独立订单",
    "burst.peer_closed": "熔断关联订单已结束",
    "burst.too_late": "熔断时已发货",
    "coupon.redeemed": "优惠券核销",
    # address
    "address.corrected": "地址已更正",
    "address.accepted_unresolved": "地址按原文接受",
    "address.accepted_unconfirmed": "未确认地址, 按原地址发货",
    "address.awaiting_confirmation": "等待客户确认地址",
    "address.confirmation_sent": "已发送地址确认",
    "address.confirmation_skipped": "免地址确认",
    "address.reminder_sent": "已提醒客户确认地址",
    "address.confirmed": "客户已确认地址",
    "address.point_rejected": "送货位置不符, 请重新确认",
    "address.changed": "修改地址",  # by the customer, customer service or the channel: the actor says who
    "address.change_refused": "改址被拒(已发出)",
    "address.change_invalid": "新地址无法解析",
    # channels, ERP
    "channel.address_changed": "渠道改址已生效",
    "channel.change_not_applied": "渠道改址未生效",
    "channel.redelivered_changed": "渠道重推订单有变更",
    "channel.redelivery_stale": "渠道旧版本重推(未应用)",
    "erp.pushed": "已同步ERP",
    # warehouse part and stock
    "part.packed": "包裹已打包",
    "part.held": "包裹待处理",
    "part.released": "包裹已放行",
    "part.released_from_hold": "包裹继续履约",
    "part.no_picking": "无需仓内拣货",
    "part.redirected": "包裹改址",
    "part.handed_over": "已交付(无物流跟踪)",
    "part.not_shipped": "包裹未能发货",
    "part.not_reached": "包裹已结束, 未送达指令",
    "part.cancelled": "包裹取消",
    "part.rejected": "包裹驳回",
    "wave.left": "移出波次",
    "wave.not_found": "找不到波次",
    "wave.assigned": "分配波次",
    "pick.started": "开始拣货",
    "stock.returned": "商品放回库位",
    "supplier.reserved": "已预留供应商库存",
    "supplier.released": "已释放供应商预留",
    # logistics
    "waybill.created": "电子面单已生成",
    "shipment.waybill_created": "电子面单已生成",
    "shipment.retry": "重新申请面单",
    "shipment.delivered": "包裹已签收",
    "shipment.returned": "包裹已退回",
    "shipment.not_collected": "客户未寄出退件",
    "shipment.refused": "面单失败, 不再发货",
    "shipment.stopped": "包裹跟踪已停止",
    "shipment.owner_gone": "订单已结束, 包裹无人接收",
    "logistics.shipped": "已发货",
    "logistics.signed": "已签收",
    "tracking.event": "物流轨迹",
    "tracking.stalled": "运输超时预警",
    "tracking.problem": "物流异常",
    # installation
    "installation.booked": "已预约上门安装",
    "installation.not_booked": "无需预约安装",
    "installation.failed": "安装预约失败",
    # aftersales (on the order) and the case itself
    "aftersales.requested": "售后申请",
    "exchange.requested": "换货申请",
    "return.requested": "退货申请",
    "aftersales.opened": "售后已发起",
    "aftersales.cancellation": "发货前售后, 转为取消",
    "aftersales.closed": "售后已结束",
    "case.opened": "售后单创建",
    "case.completed": "售后完成",
    "case.closed": "售后关闭",
    "return.waybill_created": "退货运单已生成",
    "return.waybill_failed": "退货运单生成失败",
    "qc.pending": "待质检",
    "qc.passed": "质检通过",
    "qc.failed": "质检不通过",
    "refund.started": "开始退款",
    "refund.recorded": "退款完成",
    "replacement.started": "已发出换货/补发新订单",
    # notifications
    "notify.failed": "通知发送失败",
    **{f"return.{code}": name for code, name in _TRACKING_EVENT_NAMES.items()},
}
# order.<status>: a split order's status move names the status it reached
for _status, _name in ORDER_STATUS.items():
    EVENTS.setdefault(f"order.{_status}", _name)

# ---------------------------------------------------------------- reviews

REVIEW_KINDS: dict[str, str] = {  # domain/review.py ReviewKind
    "address": "地址审核",
    "routing": "人工分单",
    "risk": "风控审核",
    "stock": "缺货处理",
    "transit": "物流停滞",
    "carrier": "面单失败",
    "returned": "包裹退回",
    "follow_up": "人工跟进",
    "ops": "系统故障",
}

REVIEW_STATES: dict[str, str] = {"open": "待处理", "decided": "已处理", "cancelled": "已关闭"}

DECISIONS: dict[str, str] = {  # the generic verb; DECISIONS_BY_KIND says what it means for one kind
    "approve": "通过",
    "reject": "拒绝",
    "reroute": "改派",
    "correct_address": "更正地址",
}

DECISIONS_BY_KIND: dict[tuple[str, str], str] = {
    ("address", "approve"): "按原地址接受",
    ("address", "reject"): "驳回订单",
    ("address", "correct_address"): "更正地址",
    ("routing", "reroute"): "指定仓库",
    ("routing", "reject"): "驳回订单",
    ("risk", "approve"): "放行",
    ("risk", "reject"): "驳回订单",
    ("risk", "reroute"): "放行并改派仓库",
    ("stock", "approve"): "补货后重新拣货",
    ("stock", "reroute"): "改派其他仓库",
    ("stock", "reject"): "驳回订单",
    ("transit", "approve"): "已联系承运商",
    ("follow_up", "approve"): "已人工安排",
    ("returned", "approve"): "重新发货",
    ("returned", "reject"): "不再发货",
    ("carrier", "approve"): "重试下单",
    ("carrier", "reroute"): "换承运商",
    ("carrier", "reject"): "不再发货",
    ("ops", "approve"): "重试",
    ("ops", "reject"): "放弃订单",
}

# ---------------------------------------------------------------- tracking, risk

TRACKING: dict[str, str] = {  # domain/logistics.py TrackingCode
    "collected": "已揽收",
    "in_transit": "运输中",
    "arrived": "到达网点",
    "out_for_delivery": "派送中",
    "signed": "已签收",
    "delivery_failed": "派送失败",
    "returned_to_sender": "已退回",
    "exception": "运输异常",
}

TRANSIT_ALERTS: dict[str, str] = {  # domain/logistics.py TransitAlert.kind
    "stalled": "长时间无物流轨迹",
    "delivery_failed": "派送失败",
    "returned_to_sender": "包裹退回",
    "exception": "运输异常",
}

SEVERITIES: dict[str, str] = {"block": "拦截", "hold": "暂停待审", "flag": "标记"}
RISK_LEVELS: dict[str, str] = {"none": "无风险", **SEVERITIES}


class RiskFeature(NamedTuple):
    """A risk feature's Chinese name and the sentence that says what tripped it.

    ``template`` is formatted with the hit's ``data`` (lists of words joined with 、); a dict
    template picks its sentence by ``data[variant]``; ``item`` formats each entry of
    ``data["items"]`` (a dict item picks by the entry's ``kind``) and the results, joined with
    ``joiner``, fill ``{items}``."""

    name: str
    template: str | dict[str, str]
    item: str | dict[str, str] = ""
    variant: str = ""
    joiner: str = "、"


RISK_FEATURES: dict[str, RiskFeature] = {  # domain/risk.py CHECKS, by code
    "NO_DELIVERY_KEYWORD": RiskFeature("地址含停止配送关键词", "地址含「{keywords}」, 拦截不发货"),
    "BURST_SAME_ADDRESS": RiskFeature(
        "同一客户短时间内向同一地址连续下单",
        "客户 {customer_id} {window_minutes} 分钟内向同一地址下单 {count} 笔(阈值 {threshold}), 熔断待风控审核"),
    "SUSPECTED_BRUSHING": RiskFeature("促销刷单疑似(重复单已合并)", "同一手机号同一SKU短时间内重复下单, 已合并, 疑似促销刷单"),
    "INVALID_PHONE": RiskFeature("电话号码无效", {
        "unparseable": "电话「{phone}」无法识别",
        "invalid": "电话 {phone} 不是有效的中国大陆号码",
        "not_mobile": "零售渠道({channel_label})订单的电话 {phone} 不是手机号",
    }, variant="problem"),
    "ADDRESS_UNRESOLVED": RiskFeature("地址无法解析到区县", "地址「{address}」无法解析到省市区县"),
    "BLACKLISTED": RiskFeature("黑名单客户/电话/地址", "命中黑名单: {items}", item="{kind_label}({reason})", joiner="; "),
    "AMOUNT_OUTLIER": RiskFeature(
        "金额远超客户历史均值",
        "订单金额 {amount} 元超过该客户近 {history_days} 天均单 {average} 元的 {multiple} 倍"),
    "NEW_CUSTOMER_LARGE_ORDER": RiskFeature("新客户大额订单", "新客户(无历史订单)首单金额 {amount} 元超过 {limit} 元"),
    "QUANTITY_EXCESSIVE": RiskFeature("单行数量超限", "{items} 超过单行上限 {limit} 件", item="第{line_no}行 {sku} ×{quantity}"),
    "PRICE_BELOW_FLOOR": RiskFeature("单价≤0或低于底价", "{items}", item={
        "not_positive": "第{line_no}行 {sku} 单价 {price} 元 ≤ 0",
        "below_floor": "第{line_no}行 {sku} 单价 {price} 元低于底价 {floor} 元",
    }, joiner="; "),
    "COUPON_ABUSE": RiskFeature("优惠券超比例或重复核销", "{items}", item={
        "over_share": "优惠券 {coupon} 抵扣 {amount} 元, 超过货值 {goods} 元的 {max_share}",
        "redeemed": "优惠券 {coupon} 已被订单 {redeemed_by} 核销",
    }, joiner="; "),
    "PAYMENT_MISMATCH": RiskFeature(
        "实付金额与应付不符",
        "实付 {paid} 元 ≠ 货值 {goods} − 优惠 {coupon_amount} + 运费 {freight} = {expected} 元"),
    "FITMENT_MISMATCH": RiskFeature("适配车型不符", "{items}", item="第{line_no}行 {sku} 不适配「{vehicle}」(适配: {fits})",
                                    joiner="; "),
    "NO_CARRIER": RiskFeature("区县无承运商覆盖", "{region} 没有承运商覆盖"),
    "REMOTE_HEAVY": RiskFeature("偏远地区重货", "偏远地区 {region} 重货 {weight_kg} kg(> {heavy_kg} kg), 需确认运力与运费"),
    "TEST_RECIPIENT": RiskFeature("疑似测试收件人", "收件人「{name}」像测试数据(含「{patterns}」)"),
    "CARRIER_SUSPENDED": RiskFeature("唯一承运商在该区县停运", "{region} 唯一的承运商 {carrier_label}({carrier}) 当前停运"),
}

BLACKLIST_KINDS: dict[str, str] = {"customer": "客户", "phone": "电话", "address": "地址"}

# ---------------------------------------------------------------- catalogue

VEHICLE_MODELS: dict[str, str] = {  # domain/catalogue.py VehicleModel: the name is the code we store
    "TOYOTA_COROLLA_2018": "丰田 卡罗拉 2018款",
    "TOYOTA_CAMRY_2019": "丰田 凯美瑞 2019款",
    "HONDA_CIVIC_2020": "本田 思域 2020款",
    "HONDA_ACCORD_2018": "本田 雅阁 2018款",
    "VW_LAVIDA_2019": "大众 朗逸 2019款",
    "VW_PASSAT_2020": "大众 帕萨特 2020款",
    "VW_SAGITAR_2019": "大众 速腾 2019款",
    "NISSAN_SYLPHY_2020": "日产 轩逸 2020款",
    "BUICK_EXCELLE_2018": "别克 英朗 2018款",
    "BYD_HAN_2021": "比亚迪 汉 2021款",
    "GEELY_EMGRAND_2019": "吉利 帝豪 2019款",
    "BMW_3_2020": "宝马 3系 2020款",
    "AUDI_A4L_2019": "奥迪 A4L 2019款",
    "UNIVERSAL": "通用",
}

CATEGORIES: dict[str, str] = {  # domain/catalogue.py Category: names (the values are these words already)
    "ENGINE_ASSEMBLY": "发动机总成",
    "BRAKE_PADS": "刹车片",
    "BRAKE_DISC": "刹车盘",
    "OIL_FILTER": "机油滤清器",
    "AIR_FILTER": "空气滤清器",
    "ENGINE_OIL": "机油",
    "SPARK_PLUG": "火花塞",
    "TYRE": "轮胎",
    "BATTERY": "蓄电池",
    "WIPER": "雨刮",
    "LIGHTING": "车灯",
    "SUSPENSION": "悬挂件",
    "GEARBOX": "变速箱总成",
    "ACCESSORY": "其他配件",
}

# ---------------------------------------------------------------- partners and places

CHANNELS: dict[str, str] = {  # domain/order.py Channel, plus the API's own callers
    "tmall": "天猫",
    "taobao": "淘宝",
    "douyin": "抖音",
    "miniprogram": "小程序",
    "erp": "ERP",
    "manual": "手工录单",
    "team": "小微团队",
    "api": "接口",
}

CARRIERS: dict[str, str] = {  # domain/logistics.py CarrierCode
    "SF": "顺丰速运",
    "ZTO": "中通快递",
    "JD": "京东快递",
    "DEBANG": "德邦快递",
}

WAREHOUSES: dict[str, str] = {  # domain/logistics.py WAREHOUSE_SENDERS, domain/default_rules.py
    "HZ-DIRECT": "杭州自营仓",
    "HZ-CLOUD": "杭州云仓",
    "GZ-CLOUD": "广州云仓",
    "SH-CLOUD": "上海云仓",
    "BJ-CLOUD": "北京云仓",
}

SHIP_MODES: dict[str, str] = {"direct": "直发", "cloud": "云仓"}  # domain/routing_rules.py ShipMode

# ---------------------------------------------------------------- aftersales

AFTERSALES_TYPES: dict[str, str] = {  # domain/aftersales.py AftersalesType
    "exchange": "换货",
    "return": "退货退款",
    "refund_only": "仅退款",
    "reissue": "补发",
}

CASE_STATUSES: dict[str, str] = {  # domain/aftersales.py CaseStatus
    "awaiting_return": "待寄回",
    "return_in_transit": "退件运输中",
    "qc_pending": "待质检",
    "refunding": "退款中",
    "replacement_sent": "已发出换货/补发",
    "completed": "已完成",
    "rejected": "已驳回(质检不通过)",
    "cancelled": "已关闭",
}

TICKET_KINDS: dict[str, str] = {"cancellation": "取消订单", "aftersales": "售后单"}  # AftersalesTicket.kind

# ---------------------------------------------------------------- warehouse

TASK_STATES: dict[str, str] = {  # domain/warehouse.py TaskState (their icons and voice: TASK_LOOK)
    "pending": "待拣货",
    "picking": "拣货中",
    "qc_pending": "待质检",
    "putaway_pending": "待上架",
    "short": "缺货异常",
    "done": "已完成",
    "cancelled": "已取消",
}
TASK_KINDS: dict[str, str] = {"pick": "拣货", "putaway": "上架"}
WAVE_STATES: dict[str, str] = {"open": "组波中", "picking": "拣货中", "packing": "待打包", "done": "已完成"}
CLOSE_REASONS: dict[str, str] = {"size": "满单截单", "cutoff": "到截单时间", "manual": "手工截单", "urgent": "加急截单"}
SCAN_STEPS: dict[str, str] = {"bin": "扫库位", "item": "扫商品", "quantity": "确认数量", "wait": "等待补打标签",
                              "done": "已完成"}
SCAN_RESULTS: dict[str, str] = {"accepted": "通过", "rejected": "错误", "reprint": "需补打标签", "confirmed": "已确认",
                                "short": "缺货"}
MIS_SCANS: dict[str, str] = {"unreadable": "无法识别", "wrong_bin": "库位错误", "wrong_item": "商品错误",
                             "wrong_quantity": "数量错误"}
EXCEPTION_KINDS: dict[str, str] = {"short_pick": "缺货异常", "reprint_label": "补打标签", "qc_failed": "质检不合格"}
EXCEPTION_STATES: dict[str, str] = {"open": "待处理", "resolved": "已处理"}
WAVE_OUTCOMES: dict[str, str] = {"packed": "已打包", "short": "缺货", "cancelled": "已取消"}  # WaveDone.outcome

# ---------------------------------------------------------------- small teams (domain/team.py, api/team_routes.py)

TEAM_NOTICE: dict[str, str] = {  # the team's WeCom notices
    "new": "📝 小微团队新订单",
    "untouched": "🔴 订单超24小时无人处理,已标红 · 再次提醒",
    "action": "去控制台处理",
}
TEAM_FORM: dict[str, str] = {  # the registration form's own words (field names come from FIELDS)
    "title": "小微团队订单登记",
    "sign_in": "登录",
    "sign_out": "退出",
    "username": "用户名",
    "password": "密码",
    "signed_in_as": "当前登录",
    "submit": "提交订单",
    "add_line": "再加一件商品",
    "remove_line": "删除",
    "line": "商品",
    "optional": "选填",
    "paid_hint": "不填则按商品金额加运费计算",
    "created": "订单已登记",
    "order_no": "订单号",
    "status": "当前状态",
    "fix_errors": "请按提示修改标红的项目",
    "failed": "提交失败",
    "another": "再登记一单",
    "signed_out": "请先登录后登记订单",
    "no_role": "该账号无权登记订单",
}

# ---------------------------------------------------------------- order flags, finance

FLAGS: dict[str, str] = {
    "suspected_brushing": "促销刷单疑似",
    "stuck": "卡住",
    "urgent": "加急",
    "stale": "超24小时未处理",
    # the shops' remark flags (备注旗帜)
    "red": "红旗",
    "yellow": "黄旗",
    "green": "绿旗",
    "blue": "蓝旗",
    "purple": "紫旗",
}

DIFF_CLASSES: dict[str, str] = {  # domain/reconciliation.py DiffClass
    "missing_settlement": "渠道未结算",
    "missing_receipt": "ERP未收款",
    "unmatched_settlement": "无对应订单的结算",
    "freight_not_collected": "运费未收",
    "rounding_difference": "尾差",
    "amount_mismatch": "金额不符",
    "coupon_redeemed_twice": "优惠券重复核销",
    "coupon_not_in_ledger": "优惠券未入台账",
    "refund_not_deducted": "渠道未扣退款",
    "unmatched_refund": "无对应售后的退款",
    "refund_mismatch": "退款金额不符",
}

CHANNEL_HEALTH: dict[str, str] = {  # domain/channels/health.py HealthState
    "running": "正常",
    "learning": "正常(学习推送频率)",
    "failed": "失败",
    "stalled": "停滞",
    "silent": "推送中断",
    "stopped": "已停止",
}

WEBHOOK_OUTCOMES: dict[str, str] = {  # api/channel_routes.py WebhookOutcome: what a partner's push was answered
    "accepted": "已接收",
    "replayed": "重复推送, 已处理过",
    "ignored": "已忽略",
    "unmappable": "无法解析, 已记为拒收",
    "bad_signature": "签名错误",
    "stale": "推送已过期",
    "error": "服务暂不可用",
    "detail_unavailable": "订单详情暂不可取",
}

# every group by name: the console and tests walk them; ``label(group, code)`` reads any of them
STAGES: dict[str, str] = {  # domain/contracts/task_queues.py Stage: what a worker process serves
    "orders": "订单(接单·审核·放行·售后)", "warehouse": "仓储(波次·拣货·供应商)", "logistics": "物流(运单·轨迹·确认·安装)",
    "finance": "财务(对账)",
}

GROUPS: dict[str, dict[str, str]] = {
    "order_status": ORDER_STATUS, "part_status": PART_STATUS, "parcel_status": PARCEL_STATUS, "event": EVENTS,
    "review_kind": REVIEW_KINDS, "review_state": REVIEW_STATES, "decision": DECISIONS, "tracking": TRACKING,
    "transit_alert": TRANSIT_ALERTS, "severity": SEVERITIES, "risk_level": RISK_LEVELS,
    "risk_feature": {code: f.name for code, f in RISK_FEATURES.items()}, "blacklist_kind": BLACKLIST_KINDS,
    "vehicle_model": VEHICLE_MODELS, "category": CATEGORIES, "channel": CHANNELS, "carrier": CARRIERS,
    "warehouse": WAREHOUSES, "ship_mode": SHIP_MODES, "aftersales_type": AFTERSALES_TYPES,
    "case_status": CASE_STATUSES, "ticket_kind": TICKET_KINDS, "task_state": TASK_STATES, "task_kind": TASK_KINDS,
    "wave_state": WAVE_STATES, "close_reason": CLOSE_REASONS, "scan_step": SCAN_STEPS, "scan_result": SCAN_RESULTS,
    "mis_scan": MIS_SCANS, "exception_kind": EXCEPTION_KINDS, "exception_state": EXCEPTION_STATES,
    "wave_outcome": WAVE_OUTCOMES, "flag": FLAGS, "diff_class": DIFF_CLASSES, "channel_health": CHANNEL_HEALTH,
    "stage": STAGES, "webhook_outcome": WEBHOOK_OUTCOMES,
}

# ---------------------------------------------------------------- lookups


def _raw(code: Any) -> str:
    if code is None:
        return ""
    return str(getattr(code, "value", code))


def label(group: str, code: Any) -> str:
    """The Chinese label of ``code`` in ``group`` (a key of ``GROUPS``); the raw code if unknown."""
    raw = _raw(code)
    return GROUPS.get(group, {}).get(raw, raw)


def order_status(code: Any) -> str:
    return label("order_status", code)


def part_status(code: Any) -> str:
    return label("part_status", code)


def parcel_status(code: Any) -> str:
    return label("parcel_status", code)


def event(name: Any) -> str:
    return label("event", name)


def review_kind(code: Any) -> str:
    return label("review_kind", code)


def review_state(code: Any) -> str:
    return label("review_state", code)


def decision(code: Any, kind: Any = None) -> str:
    """What the decision means for this kind of review (ops approve = 重试, returned approve = 重新发货);
    the generic verb without a kind."""
    raw = _raw(code)
    if kind is not None and (found := DECISIONS_BY_KIND.get((_raw(kind), raw))):
        return found
    return DECISIONS.get(raw, raw)


def tracking(code: Any) -> str:
    return label("tracking", code)


def severity(code: Any) -> str:
    return label("severity", code)


def risk_level(code: Any) -> str:
    return label("risk_level", code)


# feature codes of reviews that are not risk checks (domain/risk.py CHECKS): the routing review's
ROUTING_FEATURES: dict[str, RiskFeature] = {
    "NO_RULE_MATCH": RiskFeature("无匹配分单规则, 需人工分单", "{region} 没有匹配的分单规则, 请人工选择仓库"),
}


def risk_feature(code: Any) -> str:
    """A risk feature's Chinese name, e.g. AMOUNT_OUTLIER → 金额远超客户历史均值."""
    raw = _raw(code)
    f = RISK_FEATURES.get(raw) or ROUTING_FEATURES.get(raw)
    return f.name if f else raw


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def _words(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return "、".join(str(v) for v in value)
    return "" if value is None else value


def _fill(template: str, data: Mapping[str, Any], *, strict: bool = False) -> str:
    """``template`` with ``data``; an absent key is blank, or a KeyError when ``strict``."""
    values = {k: _words(v) for k, v in data.items()}
    try:
        text = template.format_map(values if strict else _Blank(values))
    except (ValueError, IndexError, AttributeError):  # a malformed template must not break a page
        return template
    for empty in ("「」", "()", "()"):  # a word the data had empty
        text = text.replace(empty, "")
    return re.sub(r"\s{2,}", " ", text).strip()


def risk_sentence(code: Any, data: Mapping[str, Any] | None = None) -> str:
    """The sentence saying why a feature tripped, with its numbers, from the hit's ``data``
    (e.g. 订单金额 12800.00 元超过该客户近 90 天均单 800.00 元的 5 倍); the feature's name when the
    data lacks a number the sentence needs (a hit recorded before its data carried them)."""
    raw = _raw(code)
    f = RISK_FEATURES.get(raw) or ROUTING_FEATURES.get(raw)
    if f is None:
        return raw
    data = dict(data or {})
    template = f.template
    if isinstance(template, dict):
        template = template.get(str(data.get(f.variant, "")), "")
        if not template:
            return f.name
    try:
        if f.item:
            items = [it if isinstance(it, Mapping) else {"text": it} for it in data.get("items") or []]
            texts = []
            for it in items:
                item = f.item.get(str(it.get("kind", "")), "") if isinstance(f.item, dict) else f.item
                texts.append(_fill(item, it, strict=True) if item else str(it.get("text", "")))
            data["items"] = f.joiner.join(t for t in texts if t)
            if not data["items"]:
                return f.name
        return _fill(template, data, strict=True) or f.name
    except KeyError:
        return f.name


def blacklist_kind(code: Any) -> str:
    return label("blacklist_kind", code)


def vehicle_model(code: Any) -> str:
    """TOYOTA_COROLLA_2018 → 丰田 卡罗拉 2018款 (the catalogue's display name)."""
    return label("vehicle_model", code)


def category(code: Any) -> str:
    """A category by its name (ENGINE_ASSEMBLY) or its value (发动机总成, already Chinese)."""
    return label("category", code)


def channel(code: Any) -> str:
    return label("channel", code)


def carrier(code: Any) -> str:
    return label("carrier", code)


def warehouse(code: Any) -> str:
    """HZ-DIRECT → 杭州自营仓; a split order's 'HZ-DIRECT,GZ-CLOUD' → 杭州自营仓、广州云仓."""
    raw = _raw(code)
    if "," in raw:
        return "、".join(WAREHOUSES.get(w.strip(), w.strip()) for w in raw.split(","))
    return WAREHOUSES.get(raw, raw)


def aftersales_type(code: Any) -> str:
    return label("aftersales_type", code)


def case_status(code: Any) -> str:
    return label("case_status", code)


def task_state(code: Any) -> str:
    return label("task_state", code)


def wave_state(code: Any) -> str:
    return label("wave_state", code)


def exception_kind(code: Any) -> str:
    return label("exception_kind", code)


def flag(code: Any) -> str:
    return label("flag", code)


def flags(codes: Iterable[Any] | None) -> str:
    return "、".join(flag(c) for c in codes or [])


def diff_class(code: Any) -> str:
    return label("diff_class", code)


def with_code(text: str, code: Any) -> str:
    """'已签收 (delivered)': the label and, when it differs, the code support staff search for."""
    raw = _raw(code)
    return text if text == raw or not raw else f"{text} ({raw})"


# ---------------------------------------------------------------- field names and validation messages

# field paths as the API reports them (customer.phone, lines[0].unit_price); list indices are left out
# of the key and said in words (第1行). The last part alone is the fallback for other models.
FIELDS: dict[str, str] = {
    # the customer's confirmation page (a pin on the map)
    "lat": "纬度",
    "lng": "经度",
    # OrderSubmission
    "channel": "渠道",
    "channel_order_id": "渠道订单号",
    "ordered_at": "下单时间",
    "customer": "收货人",
    "customer.id": "客户编号",
    "customer.name": "收货人姓名",
    "customer.phone": "收货人电话",
    "address": "收货地址",
    "address.raw": "地址原文",
    "address.province": "省份",
    "address.city": "城市",
    "address.district": "区县",
    "address.detail": "详细地址",
    "lines": "商品明细",
    "lines.sku": "SKU",
    "lines.name": "商品名称",
    "lines.category": "品类",
    "lines.quantity": "数量",
    "lines.unit_price": "单价",
    "lines.vehicle_model": "适配车型",
    "lines.weight_kg": "重量(kg)",
    "lines.needs_installation": "需上门安装",
    "lines.supplier": "供应商",
    "coupon": "优惠券",
    "coupon.code": "优惠券码",
    "coupon.amount": "优惠金额",
    "freight": "运费",
    "paid_amount": "实付金额",
    "note": "备注",
    # reviews (ReviewDecision)
    "review_id": "审核任务编号",
    "decision": "处理决定",
    "reviewer": "审核人",
    "warehouse": "仓库",
    "carrier": "承运商",
    "override": "强制指定承运商",
    # aftersales (AftersalesRequest)
    "type": "售后类型",
    "reason": "原因",
    "requested_by": "申请人",
    # tracking pushes, warehouse devices, confirmations
    "event_id": "轨迹编号",
    "waybill_no": "运单号",
    "order_id": "订单号",
    "code": "轨迹状态",
    "query:code": "库位编码",  # the bin-label sheet's ?code=A-03-12 (a query parameter, not a tracking code)
    "text": "内容",  # a remark's text (备注), a notice's text
    "at": "时间",
    "location": "地点",
    "description": "描述",
    "task_id": "任务编号",
    "picked_qty": "拣货数量",
    "picker": "拣货员",
    "device_id": "设备编号",
    "wave_id": "波次编号",
    "packer": "打包员",
    "passed": "质检结果",
    "inspector": "质检员",
    "bin": "库位",
    "kind": "类型",
    "sku": "SKU",
    "name": "名称",
    "quantity": "数量",
    "phone": "电话",
    "actor": "操作人",
    "limit": "条数",
    "offset": "起始位置",
    # query-string and path parameters (GET /v1/orders/search?offset=-1 → 起始位置不能小于 0)
    "action": "操作",
    "activate": "立即启用",
    "case_id": "售后单号",
    "created_by": "创建人",
    "customer_id": "客户编号",
    "date_from": "开始日期",
    "date_to": "结束日期",
    "day": "日期",
    "escalation": "升级状态",
    "exception_id": "异常编号",
    "from": "开始",
    "layout": "版式",
    "min_age_minutes": "等待时长(分钟)",
    "open_only": "仅未处理",
    "outcome": "结果",
    "page_size": "每页条数",
    "redirect_uri": "回跳地址",
    "rejection_id": "拒收记录编号",
    "series": "按时间序列",
    "since": "开始时间",
    "until": "结束时间",
    "state": "状态",
    "status": "状态",
    "to": "结束",
    "token": "链接凭证",
    "username": "用户名",
    "password": "密码",
    "file": "文件",  # an upload (POST /v1/rules: the rules workbook)
    "version": "版本",
    "wait": "等待处理结果",
    "waybill": "运单号",
    "(body)": "请求内容",
}

# how an item of a list is said before its field: 第1行单价, 第2项
_LIST_ITEMS: dict[str, str] = {"lines": "第{n}行"}

_PATH_TOKEN = re.compile(r"[^.\[\]]+|\[(\d+)\]")


def _tokens(path: Any) -> list[str | int]:
    if isinstance(path, (list, tuple)):
        return [p for p in path if p not in ("body", "query", "path")]
    out: list[str | int] = []
    for m in _PATH_TOKEN.finditer(str(path or "")):
        out.append(int(m.group(1)) if m.group(1) is not None else m.group(0))
    return out


def field_label(path: Any) -> str:
    """customer.phone → 收货人电话, lines[0].unit_price → 第1行单价, ('body', 'lines', 1) → 第2行商品,
    ('query', 'state', 0) (a repeated ?state=) → 状态(第1项); an unknown field is named by its last
    part's label, else as given."""
    tokens = _tokens(path)
    if not tokens:
        return FIELDS["(body)"]
    names = [t for t in tokens if isinstance(t, str)]
    prefix = "".join(_LIST_ITEMS.get(str(tokens[i - 1]) if i else "", "第{n}项").format(n=t + 1)
                     for i, t in enumerate(tokens) if isinstance(t, int))
    key = ".".join(names)
    where = path[0] if isinstance(path, (list, tuple)) and path and path[0] in ("query", "path") else None
    leaf = (FIELDS.get(f"{where}:{key}") if where else None) or FIELDS.get(key) or (FIELDS.get(names[-1]) if names else None)
    if isinstance(tokens[-1], int):  # the list item itself
        if names[-1:] == ["lines"]:
            return prefix + "商品"
        if leaf is None or not isinstance(tokens[-2], str):  # an item of an item, or of a field with no label
            return prefix
        return f"{field_label([where, *tokens[:-1]] if where else tokens[:-1])}(第{tokens[-1] + 1}项)"
    if leaf is None:
        return _raw_path(tokens)
    return prefix + leaf


def _raw_path(tokens: list[str | int]) -> str:
    out = ""
    for t in tokens:
        out += f"[{t}]" if isinstance(t, int) else ("." if out else "") + t
    return out


# pydantic's error types → a sentence after the field's name; {…} come from the error's ctx
VALIDATION: dict[str, str] = {
    "missing": "不能为空, 请填写",
    "missing_argument": "不能为空, 请填写",
    "none_required": "不应填写",
    "string_type": "应为文字",
    "string_too_short": "至少需要 {min_length} 个字符",
    "string_too_long": "最多 {max_length} 个字符",
    "string_pattern_mismatch": "格式不对(只能用字母、数字和 _ . : - 等符号)",
    "string_not_ascii": "只能用英文字母、数字和符号",
    "string_unicode": "应为文字",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数, 不能带小数",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "decimal_type": "应为数字",
    "decimal_parsing": "应为数字",
    "decimal_max_digits": "数字太长(最多 {max_digits} 位)",
    "decimal_max_places": "最多 {decimal_places} 位小数",
    "decimal_whole_digits": "整数部分最多 {whole_digits} 位",
    "decimal_not_finite": "应为有限的数字",
    "finite_number": "应为有限的数字",
    "greater_than": "必须大于 {gt}",
    "greater_than_equal": "不能小于 {ge}",
    "less_than": "必须小于 {lt}",
    "less_than_equal": "不能大于 {le}",
    "multiple_of": "必须是 {multiple_of} 的倍数",
    "too_short": "至少需要 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "list_type": "应为列表",
    "tuple_type": "应为列表",
    "set_type": "应为列表",
    "dict_type": "应为对象",
    "model_type": "应为对象",
    "model_attributes_type": "应为对象",
    "dataclass_type": "应为对象",
    "bool_type": "应为是/否(true/false)",
    "bool_parsing": "应为是/否(true/false)",
    "enum": "不是可选的值, 可选: {expected}",
    "literal_error": "不是可选的值, 可选: {expected}",
    "datetime_type": "应为日期时间, 例如 2026-11-27T10:00:00+08:00",
    "datetime_parsing": "不是有效的日期时间, 例如 2026-11-27T10:00:00+08:00",
    "datetime_from_date_parsing": "不是有效的日期时间, 例如 2026-11-27T10:00:00+08:00",
    "datetime_object_invalid": "不是有效的日期时间",
    "date_type": "应为日期, 例如 2026-11-27",
    "date_parsing": "不是有效的日期, 例如 2026-11-27",
    "date_from_datetime_parsing": "不是有效的日期, 例如 2026-11-27",
    "time_parsing": "不是有效的时间, 例如 16:00",
    "timezone_aware": "需要带时区, 例如 2026-11-27T10:00:00+08:00",
    "timezone_naive": "不应带时区",
    "url_parsing": "不是有效的网址",
    "url_type": "不是有效的网址",
    "uuid_parsing": "不是有效的编号(UUID)",
    "json_invalid": "不是有效的 JSON",
    "json_type": "应为 JSON 文本",
    "extra_forbidden": "不是可接受的字段",
    "frozen_field": "不能修改",
    "frozen_instance": "不能修改",
    "union_tag_invalid": "类型不对",
    "union_tag_not_found": "缺少类型",
    "is_instance_of": "类型不对",
    "bytes_type": "应为文件内容",
    "value_error": "{error}",
    "assertion_error": "{error}",
    # the rest of pydantic's error types: rare for our payloads, still said in Chinese
    "no_such_attribute": "不是可接受的字段",
    "needs_python_object": "类型不对",
    "recursion_loop": "内容循环嵌套",
    "recursion_depth_exceeded": "内容嵌套太深",
    "invalid_key": "字段名无效",
    "get_attribute_error": "无法读取",
    "dataclass_exact_type": "类型不对",
    "named_tuple_type": "应为列表",
    "default_factory_not_called": "无法生成默认值",
    "iterable_type": "应为列表",
    "iteration_error": "无法逐项读取",
    "frozen_dict_type": "应为对象",
    "ordered_dict_type": "应为对象",
    "counter_type": "应为对象",
    "mapping_type": "应为对象",
    "deque_type": "应为列表",
    "frozen_set_type": "应为列表",
    "set_item_not_hashable": "含有不能比较的项",
    "int_parsing_size": "数字太大",
    "bytes_too_short": "至少需要 {min_length} 个字节",
    "bytes_too_long": "最多 {max_length} 个字节",
    "bytes_invalid_encoding": "编码不对",
    "missing_sentinel_error": "不应填写",
    "ellipsis_error": "不应填写",
    "date_from_datetime_inexact": "应为日期, 不带时间",
    "date_past": "应为过去的日期",
    "date_future": "应为将来的日期",
    "time_type": "应为时间, 例如 16:00",
    "datetime_past": "应为过去的时间",
    "datetime_future": "应为将来的时间",
    "timezone_offset": "时区不对",
    "time_delta_type": "应为时长",
    "time_delta_parsing": "不是有效的时长",
    "is_subclass_of": "类型不对",
    "callable_type": "类型不对",
    "arguments_type": "参数不对",
    "unexpected_keyword_argument": "不是可接受的参数",
    "missing_keyword_only_argument": "不能为空, 请填写",
    "unexpected_positional_argument": "不是可接受的参数",
    "missing_positional_only_argument": "不能为空, 请填写",
    "multiple_argument_values": "重复填写",
    "url_syntax_violation": "不是有效的网址",
    "url_too_long": "网址太长(最多 {max_length} 个字符)",
    "url_scheme": "网址协议不对, 可选: {expected_schemes}",
    "uuid_type": "不是有效的编号(UUID)",
    "uuid_version": "编号(UUID)版本不对",
    "fraction_type": "应为分数",
    "fraction_parsing": "不是有效的分数",
    "complex_type": "应为复数",
    "complex_str_parsing": "不是有效的复数",
}

# the English messages of our own validators (raise ValueError in domain models), in Chinese
VALUE_ERRORS: dict[str, str] = {
    "give the address as raw text or as province/city/district/detail": "需填写地址原文, 或省/市/区县/详细地址",
    "ordered_at needs a timezone": "需要带时区, 例如 2026-11-27T10:00:00+08:00",
    # the door's own bilingual sentences (domain/order.py), said the label table's way
    "下单时间 ordered_at 需要时区": "需要带时区, 例如 2026-11-27T10:00:00+08:00",
    "金额不能为负数": "不能小于 0",
    "at needs a timezone": "需要带时区, 例如 2026-11-27T10:00:00+08:00",
    "recipient name is empty after trimming": "去掉空格后为空, 请填写",
    "coupon exceeds the goods value": "超过了商品金额",
    "vehicle model is empty": "为空, 请填写",
}


# fields whose choices are codes of a label group: an enum error lists them with their labels
_ENUM_FIELDS: dict[str, str] = {"channel": "channel", "status": "order_status", "decision": "decision", "type": "aftersales_type",
                                "carrier": "carrier", "code": "tracking", "kind": "exception_kind"}


def _choice_group(name: str, codes: list[str]) -> str | None:
    """The label group an enum error's choices come from: the field's own (``_ENUM_FIELDS``) when it
    holds every code, else the group of exactly these codes (?state= of reviews, waves, tasks…)."""
    wanted = set(codes)
    hint = _ENUM_FIELDS.get(name)
    if hint and wanted <= GROUPS[hint].keys():
        return hint
    return next((g for g, table in GROUPS.items() if wanted and table.keys() == wanted), None)


def _value_error(text: str) -> str:
    text = text.removeprefix("Value error, ").removeprefix("Assertion failed, ").strip()
    for english, chinese in VALUE_ERRORS.items():
        if text.startswith(english):
            return chinese
    if re.search(r"[\u4e00-\u9fff]", text):  # already Chinese (our newer validators): as it is, without the English
        text = re.sub(r"\s*\([A-Za-z][^()]*\)\s*$", "", text)
        return text if text.startswith(("需要", "不能", "含有", "最多", "至少", "应", "必须")) else f": {text}"
    return f"不正确: {text}" if text else "不正确"


def validation_message(error: Mapping[str, Any]) -> str:
    """One pydantic error (``exc.errors()`` entry: type, loc, msg, ctx) → a Chinese sentence naming
    the field, e.g. 收货人电话至少需要 5 个字符, 第1行单价不能为空, 请填写."""
    kind = str(error.get("type", ""))
    name = field_label(error.get("loc") or error.get("field") or ())
    ctx = dict(error.get("ctx") or {})
    if kind in ("value_error", "assertion_error"):
        return name + _value_error(str(ctx.get("error") or error.get("msg") or ""))
    template = VALIDATION.get(kind)
    if kind in ("string_too_short", "too_short") and str(ctx.get("min_length")) == "1":
        template = VALIDATION["missing"]
    elif kind in ("too_short", "too_long") and isinstance(error.get("input"), str):  # a text's length, not a list's
        template = VALIDATION[f"string_{kind}"]
    if template is None:
        msg = str(error.get("msg") or kind)
        return f"{name}不正确: {msg}"
    if "expected" in ctx:  # "'tmall', 'taobao' or 'manual'" → the codes with their labels where known
        codes = re.findall(r"'([^']*)'", str(ctx["expected"]))
        last = [t for t in _tokens(error.get("loc") or ()) if isinstance(t, str)][-1:]
        group = _choice_group(str(last[0]) if last else "", codes)
        ctx["expected"] = "、".join(f"{c}({label(group, c)})" if group and label(group, c) != c else c
                                   for c in codes) or ctx["expected"]
    sentence = _fill(template, ctx)
    return name + sentence


def validation_errors(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """``ValidationError.errors()`` → the API's ``[{field, label, message}]`` with Chinese messages."""
    out = []
    for e in errors:
        tokens = _tokens(e.get("loc") or ())
        out.append({"field": _raw_path(tokens) or "(body)", "label": field_label(e.get("loc") or ()),
                    "message": validation_message(e)})
    return out
