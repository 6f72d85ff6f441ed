// The end of an MPI job when one process exits with a failing status (gradcore.distributed's
// _mpi.py drives it). mpiexec waits for every process, and a process that finalises MPI and exits
// does not end the others: they would wait in their next collective until the timeout. Python has
// no hook that sees the status of a `raise SystemExit(3)` (sys.excepthook is not called, and
// atexit callbacks are not told the status), but glibc's on_exit is: gradcore.distributed tells
// mpi4py to leave MPI finalisation to this handler, which calls MPI_Abort (mpiexec then ends every
// process, exiting with the status) on a failing status and MPI_Finalize on success. The MPI
// functions come in as addresses from the library mpi4py loaded: the extension does not link MPI.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include "bind/common.h"

namespace gc::bind {

namespace {

struct MpiExit {
  int (*finalized)(int*) = nullptr;
  int (*finalize)() = nullptr;
  uintptr_t abort = 0;          // MPI_Abort(MPI_Comm, int); MPI_Comm is an int (mpich) or a pointer
  bool comm_is_int = true;
  uintptr_t comm_world = 0;     // MPI_COMM_WORLD's handle
  int world_size = 1;
  int rank = 0;                 // the rank named in the message
  bool registered = false;
};

MpiExit g_exit;

void end_mpi_at_exit(int status, void*) {
  int finalized = 1;
  g_exit.finalized(&finalized);
  if (finalized) return;  // someone else (mpi4py, imported before gradcore.distributed) finalised MPI
  if (status != 0 && g_exit.world_size > 1) {
    std::fprintf(stderr, "[rank%d]: exited with status %d: ending every rank of the job\n", g_exit.rank, status);
    std::fflush(stderr);
    // As gradcore.distributed's _abort_job: a pause lets mpiexec forward the message before the
    // abort kills the processes that forward output (under load it was lost now and then).
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    if (g_exit.comm_is_int)
      reinterpret_cast<int (*)(int, int)>(g_exit.abort)(static_cast<int>(g_exit.comm_world), status);
    else
      reinterpret_cast<int (*)(void*, int)>(g_exit.abort)(reinterpret_cast<void*>(g_exit.comm_world), status);
  }
  g_exit.finalize();
}

}  // namespace

static void bind_mpi_exit(py::module_& m, TensorClass&) {
  // Registers the handler once; later calls update what it uses (init_process_group's rank).
  m.def("_mpi_end_job_on_failed_exit", [](uintptr_t finalized, uintptr_t finalize, uintptr_t abort,
                                           uintptr_t comm_world, int comm_size, int world_size, int rank) {
    if (!finalized || !finalize || !abort)
      fail(ErrorKind::Value, "_mpi_end_job_on_failed_exit", "the addresses of MPI_Finalized, MPI_Finalize and "
           "MPI_Abort must not be null");
    g_exit.finalized = reinterpret_cast<int (*)(int*)>(finalized);
    g_exit.finalize = reinterpret_cast<int (*)()>(finalize);
    g_exit.abort = abort;
    g_exit.comm_is_int = comm_size == static_cast<int>(sizeof(int));
    g_exit.comm_world = comm_world;
    g_exit.world_size = world_size;
    g_exit.rank = rank;
    if (!g_exit.registered && on_exit(end_mpi_at_exit, nullptr) != 0)
      fail(ErrorKind::Runtime, "_mpi_end_job_on_failed_exit", "on_exit() could not register the handler");
    g_exit.registered = true;
  }, py::arg("finalized"), py::arg("finalize"), py::arg("abort"), py::arg("comm_world"), py::arg("comm_size"),
     py::arg("world_size"), py::arg("rank"));
}

GC_REGISTER_BINDINGS(bind_mpi_exit)

}  // namespace gc::bind
