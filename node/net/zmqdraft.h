/* zmqdraft: the draft socket options of libzmq 4.3.x this project uses.
 * zmq.h declares them only under ZMQ_BUILD_DRAFT_API; their numbers are
 * fixed, and whether the library in use has them is asked at run time
 * (zmq_setsockopt fails with EINVAL when it does not). */
#ifndef SAMIZDAT_ZMQDRAFT_H
#define SAMIZDAT_ZMQDRAFT_H

#include <zmq.h>

#ifndef ZMQ_SOCKS_USERNAME
#define ZMQ_SOCKS_USERNAME 99
#endif
#ifndef ZMQ_SOCKS_PASSWORD
#define ZMQ_SOCKS_PASSWORD 100
#endif

#endif
