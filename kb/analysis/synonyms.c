/*
 * synonyms.c — the built-in groups of interchangeable service words (see analysis/synonyms.h).
 *
 * Rules for a group: every member can replace every other in an agent's question without
 * changing what is asked; members are words of two or more characters (single characters are
 * already matched as unigrams); question words (怎么, 为什么 …) do not belong here, they are
 * stop words. Members are written in Simplified Chinese, the analyzer's folded form.
 */
#include "analysis/synonyms.h"

#include <string.h>

static const char *const GROUPS[][8] = {
    {"更换", "更改", "变更", "修改", NULL},
    {"取消", "撤销", "撤回", NULL},
    {"关闭", "注销", "停用", NULL},
    {"开通", "开启", "激活", NULL},
    {"贷款", "借款", "借钱", "借贷", NULL},
    {"还款", "还钱", NULL},
    {"手机号", "手机号码", "电话号码", NULL},
    {"来电", "致电", "回电", "打电话", NULL},
    {"储蓄卡", "借记卡", NULL},
    {"丢失", "遗失", "丢了", "掉了", NULL},
    {"额度", "限额", NULL},
    {"利息", "息费", NULL},
    {"到账", "入账", NULL},
    {"审核", "审批", NULL},
    {"失败", "不成功", "没成功", NULL},
    {"出国", "境外", "国外", "海外", "出境", NULL},
    {"宽带", "宽频", NULL},
    {"资费", "收费", "费用", NULL},
    {"账单", "对账单", "话单", NULL},
    {"验证码", "校验码", "动态码", NULL},
    {"退款", "退钱", "退费", NULL},
    {"营业厅", "网点", "柜台", NULL},
    {"短信", "短讯", NULL},
    {"携号转网", "转网", NULL},
    {"补卡", "补办", NULL},
    {"逾期", "超期", NULL},
    {"结清", "还清", NULL},
    {"密码", "口令", NULL},
    {"人工客服", "人工服务", "客服", NULL},
};
#define N_GROUPS (sizeof GROUPS / sizeof GROUPS[0])

size_t kb_synonyms_of(const char *term, const char *out[KB_SYNONYMS_MAX])
{
    for (size_t g = 0; g < N_GROUPS; g++) {
        for (size_t m = 0; GROUPS[g][m]; m++) {
            /* The first two bytes inline: nearly every member differs there, and the list is
             * scanned for every term of every query and every question the gap queue groups. */
            const char *w = GROUPS[g][m];
            if (w[0] != term[0] || w[1] != term[1] || strcmp(w, term) != 0) continue;
            size_t n = 0;
            for (size_t o = 0; GROUPS[g][o] && n < KB_SYNONYMS_MAX; o++)
                if (o != m) out[n++] = GROUPS[g][o];
            return n;
        }
    }
    return 0;
}
