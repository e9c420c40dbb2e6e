// ops.h -- the request handlers the command table points at.  Each
// replies exactly once (mpbi_req_ok / mpbi_req_error) or parks.

#ifndef MPBI_OPS_H
#define MPBI_OPS_H

#include "core.h"

// ops_server.c
void mpbi_h_ping(mpbi_req *r);
void mpbi_h_objlist(mpbi_req *r);
void mpbi_h_objdelete(mpbi_req *r);
void mpbi_h_auth_challenge(mpbi_req *r);
void mpbi_h_auth_prove(mpbi_req *r);

// ops_queue.c
extern const mpbi_class_ops mpbi_queue_class;
void mpbi_h_qcreate(mpbi_req *r);
void mpbi_h_qput(mpbi_req *r);
void mpbi_h_qget(mpbi_req *r);
void mpbi_h_qinfo(mpbi_req *r);
void mpbi_h_qtask_done(mpbi_req *r);
void mpbi_h_qjoin(mpbi_req *r);
void mpbi_h_qdelete(mpbi_req *r);
void mpbi_h_qlist(mpbi_req *r);

// ops_dict.c

// ops_list.c

// ops_sync.c

#endif // MPBI_OPS_H
