// fixtures.mjs — API answers in the documented shapes (docs/API.md) for tests that need data a
// fresh service cannot have yet: months of help-request history for the charts, a gap item
// with an "answered by X?" suggestion, content-health lists. The tests serve them with
// Playwright's page.route(), so the pages' rendering is checked against the contract; the
// end-to-end tests check the same pages against the real service.

export const months = ['2026-05', '2026-06', '2026-07', '2026-08', '2026-09', '2026-10'];
const trend = (reqs, answered) => months.map((m, i) => ({ month: m, requests: reqs[i], kb_answered: answered[i], share: reqs[i] ? answered[i] / reqs[i] : null }));

export const gapItem = (over) => ({
  id: 17, status: 'open', question: '国际漫游怎么开通', count: 42, agents: 9, impact: 378, variants: 12,
  sources: { search: 30, not_found: 8, help_request: 4 },
  first_seen: '2026-10-02T08:15:30.123Z', last_seen: '2026-10-28T02:01:11.020Z', category: '业务办理/漫游',
  top_variants: [{ question: '国际漫游怎么开通', count: 10 }, { question: '出國漫遊如何開通', count: 6 }, { question: '出国手机用不了', count: 5 }],
  suggested_answer: 'roam-intl-002', suggested_title: '国际漫游开通办理', suggested_confidence: 0.91, suggested_at: '2026-10-28T03:00:00.000Z',
  answer_doc_id: null, status_by: null, status_at: null, note: null, category_by: null, ...over,
});

export const gaps = {
  total: 3, offset: 0, limit: 50, items: [
    gapItem(),
    gapItem({ id: 18, status: 'in_progress', question: '<script>alert(1)</script>宽带提速', count: 12, agents: 5, impact: 60, variants: 3, category: null,
      top_variants: [{ question: '<img src=x onerror=alert(2)>', count: 2 }], suggested_answer: null, suggested_title: null, suggested_confidence: null, status_by: 'kb-editor-1' }),
    gapItem({ id: 19, question: '境外被扣费怎么申诉', count: 5, agents: 2, impact: 10, variants: 2, suggested_answer: null, top_variants: [] }),
  ],
};

export const gapDetail = {
  ...gapItem(),
  variants: [{ question: '国际漫游怎么开通', count: 10, last_seen: '2026-10-28T02:01:11.020Z' }, { question: '出國漫遊如何開通', count: 6, last_seen: '2026-10-27T02:01:11.020Z' }],
  questions: [{ source: 'search', ref: '5f0c', time: '2026-10-28T02:01:11.020Z', agent: 'zhang.wei', question: '国际漫游怎么开通', top_id: 'roam-intl-001' },
    { source: 'help_request', ref: '42', time: '2026-10-27T02:01:11.020Z', agent: 'li.na', question: '出國漫遊如何開通', top_id: null }],
  variants_total: 12,
  questions_total: 42,
};

export const health = {
  days: 30, documents: 1234, index_revision: 18,
  never_returned: [{ id: 'promo-2020', title: '春节特惠<b>活动</b>', categories: ['营销/活动'], updated: '2026-01-02' }],
  never_returned_total: 57,
  expired: [{ id: 'promo-2019', title: '二零一九年夏季流量包优惠活动', valid_until: '2019-08-31' }],
  expired_total: 3,
  not_answering: [{ id: 'roam-intl-001', title: '国际漫游开通办理', not_found: 5, help_overrides: 1, agents: 4 }],
  not_answering_total: 2,
};

const agentRow = (agent, name, team, reqs, answered, persistent, study, mustKnow = 0, mustKnowPersistent = false) => {
  const t = trend(reqs, answered);
  const cur = t[t.length - 1];
  const prev = t[t.length - 2];
  return { agent, name, team, requests: cur.requests, kb_answered: cur.kb_answered, share: cur.share, previous_share: prev.share,
    change: cur.share !== null && prev.share !== null ? cur.share - prev.share : null, persistent,
    must_know_misses: mustKnow, must_know_share: cur.requests ? mustKnow / cur.requests : null, must_know_persistent: mustKnowPersistent, trend: t, study };
};

export const reportAgents = {
  by: 'agent', month: '2026-10', months, threshold: 0.5, min_requests: 3, persist: 3,
  totals: { requests: 31, kb_answered: 17, share: 17 / 31 },
  rows: [
    agentRow('zhang.wei', '张伟', '一组', [4, 6, 5, 7, 8, 12], [1, 2, 3, 4, 5, 7], true, [{ doc_id: 'roam-intl-001', count: 4 }, { doc_id: 'bill-002', count: 2 }], 3, true),
    agentRow('li.na', '李娜', '二组', [5, 4, 6, 3, 6, 11], [2, 1, 2, 1, 2, 6], false, [{ doc_id: 'broadband-001', count: 3 }], 1),
    agentRow('wang.fang', '王芳', '一组', [2, 3, 2, 4, 5, 8], [0, 1, 0, 1, 1, 4], false, []),
  ],
};

export const reportTeams = {
  by: 'team', month: '2026-10', months, threshold: 0.5, min_requests: 3, persist: 3,
  totals: { requests: 31, kb_answered: 17, share: 17 / 31 },
  rows: [
    { team: '一组', agents: 2, requests: 20, kb_answered: 11, share: 0.55, previous_share: 0.46, change: 0.09, persistent_agents: 1, trend: trend([6, 9, 7, 11, 13, 20], [1, 3, 3, 5, 6, 11]) },
    { team: '二组', agents: 1, requests: 11, kb_answered: 6, share: 6 / 11, previous_share: 1 / 3, change: 0.21, persistent_agents: 0, trend: trend([5, 4, 6, 3, 6, 11], [2, 1, 2, 1, 2, 6]) },
  ],
};

export const helpRequests = {
  total: 2, offset: 0, limit: 100, items: [
    { id: 42, time: '2026-10-28T02:01:11.020Z', agent: 'zhang.wei', agent_name: '张伟', team: '一组', filed_by: 'desk-1',
      question: '出国了手机怎么用', answer: '开通国际漫游即可', kb_answerable: true, doc_id: 'roam-intl-001', confidence: 0.91,
      review: null, answerable: true, effective_doc_id: 'roam-intl-001' },
    { id: 43, time: '2026-10-27T02:01:11.020Z', agent: 'zhang.wei', agent_name: '张伟', team: '一组', filed_by: 'desk-1',
      question: '=HYPERLINK("http://x")<script>alert(1)</script>', answer: '\t=cmd|\' /C calc\'!A0', kb_answerable: false, doc_id: null, confidence: 0.12,
      review: { kb_answerable: false, doc_id: null, by: 'team-lead-3', at: '2026-10-28T03:00:00.000Z', note: '\u3000@SUM(A1) 文档没写资费' }, answerable: false, effective_doc_id: null },
  ],
};

export const agents = { agents: [{ id: 'zhang.wei', name: '张伟', team: '一组' }, { id: 'li.na', name: '李娜', team: '二组' }, { id: 'wang.fang', name: '王芳', team: '一组' }], file: null };

// GET /api/reports/coaching (docs/API.md): two sessions, two teams.
const win = (requests, answered, misses) => ({ requests, kb_answered: answered, share: requests ? answered / requests : null, must_know_misses: misses, must_know_share: requests ? misses / requests : null });
export const coachingReport = {
  weeks: 4,
  sessions: [
    { session_id: 1, date: '2026-09-15', agent: 'zhang.wei', agent_name: '张伟', team: '一组', lead: 'lead-1', documents: 2,
      before: win(8, 6, 3), after: win(5, 2, 0), share_change: -0.35, must_know_change: -3, asked_again: 0, asked_again_docs: [], complete: true },
    { session_id: 2, date: '2026-10-20', agent: 'li.na', agent_name: '李娜', team: '二组', lead: 'lead-1', documents: 1,
      before: win(4, 3, 1), after: win(2, 1, 1), share_change: -0.25, must_know_change: 0, asked_again: 1, asked_again_docs: ['roam-intl-001'], complete: false },
  ],
  teams: [
    { team: '一组', sessions: 1, coached_agents: 1, uncoached_agents: 3, coached_before: win(8, 6, 3), coached_after: win(5, 2, 0),
      uncoached_before: win(20, 10, 2), uncoached_after: win(18, 9, 2), coached_change: -0.35, uncoached_change: 0,
      coached_must_know_change: -0.375, uncoached_must_know_change: 0.0111, difference: -0.35 },
    { team: '二组', sessions: 1, coached_agents: 1, uncoached_agents: 2, coached_before: win(4, 3, 1), coached_after: win(2, 1, 1),
      uncoached_before: win(10, 4, 0), uncoached_after: win(9, 4, 1), coached_change: -0.25, uncoached_change: 0.0444,
      coached_must_know_change: 0.25, uncoached_must_know_change: 0.1111, difference: -0.2944 },
  ],
};
