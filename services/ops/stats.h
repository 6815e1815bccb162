/* stats.h - GET /v1/stats/timeliness: the DfE SEN2 timeliness measures.
 *
 * How each is counted (docs/ops-api.md says the same for readers):
 *   - requests decided within 6 weeks: requests whose decision to assess or
 *     not (decision.assess / decision.not_assess) is dated in the period,
 *     counted in the month of the decision; on time when the decision date
 *     is at most 42 days after the request was received.
 *   - final plans issued within 20 weeks: plans whose final_plan.issued is
 *     dated in the period (SEN2 counts a new plan in the period it was
 *     issued), on time when issued at most 140 days after the request was
 *     received; reported including and excluding exception cases, an
 *     exception case being one with an exception recorded against its
 *     final_plan clock (regs 13(3), 10(4): the headline figure excludes them).
 *   - mean weeks to issue: (issue date - request received) / 7 over the
 *     plans issued in the period, exception cases included.
 *   - plans over 52 weeks: plans issued in the period more than 364 days
 *     after the request.
 *   - annual reviews overdue: annual_review clocks due in the period that
 *     were met late, or are still open and past their due date today.
 * Plans imported from before sendpath (plan.imported) are not new plans and
 * are not counted. Every measure is given for the period and by month (of
 * the date it is counted on); Accept: text/csv or ?format=csv gives the same
 * as CSV, one line per period. */
#ifndef OPS_STATS_H
#define OPS_STATS_H

#include "service.h"

void ops_stats_register(sp_service *s);

#endif
