/* topics.c - the topic table. See topics.h. */
#include <string.h>
#include "topics.h"

const sp_topic_def sp_topic_table[SP_TOPIC__COUNT] = {
    [SP_TOPIC_COMMANDS] = {"sendpath.commands", 6, "case systems",
                           "Commands from authorities' case systems and portals"},
    [SP_TOPIC_CASE_EVENTS] = {"sendpath.case-events", 6, "intake",
                              "Accepted facts about a case, in order"},
    [SP_TOPIC_DEADLINES] = {"sendpath.deadlines", 6, "timers",
                            "Statutory clock events: started, approaching, due, "
                            "overdue, met, cancelled"},
    [SP_TOPIC_EVIDENCE] = {"sendpath.evidence-events", 6, "evidence",
                           "Advice requested and received, evidence complete"},
    [SP_TOPIC_NOTIFICATIONS] = {"sendpath.notification-outcomes", 6, "notify",
                                "The outcome of every attempt to send a message"},
    [SP_TOPIC_DEADLETTER] = {"sendpath.deadletter", 6, "any service",
                             "Messages refused, with the reason in headers"},
};

int sp_topic_lookup(const char *name) {
    for (int i = 0; i < SP_TOPIC__COUNT; i++)
        if (strcmp(sp_topic_table[i].name, name) == 0) return i;
    return -1;
}
