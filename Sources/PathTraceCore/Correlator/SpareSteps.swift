/// Emptied step arrays with room for a tidy walk, handed from where walks end (the printer, once a walk
/// is written) back to where they start (the stitcher): a walk's steps are about 1.4 KB, past glibc's
/// per-thread cache, so each new walk's array cost a trip through `malloc`'s bins and each written
/// one another through `free`'s (perf on scripts/bench-replay.sh's file: `_int_malloc` and `_int_free`
/// 3.6% of the replay's samples; callgrind on bench-out/t10.log: 2.3 M instructions of 177 M).
///
/// Not thread-safe: the correlator and whoever recycles into it run on one thread (replay does).
public final class SpareSteps {
    /// Arrays kept at most: the printer writes 32 walks at a time, and as many start meanwhile.
    static let limit = 64
    /// The capacity a tidy walk's array is made with (see `Stitcher.start`).
    static let capacity = 8

    private var arrays: [[WalkStep]] = []

    public init() { arrays.reserveCapacity(SpareSteps.limit) }

    var count: Int { arrays.count }
    /// Arrays taken again, for tests.
    private(set) var reused = 0

    /// An empty array with room for `capacity` steps or more, nil when none is kept.
    @inline(__always) func take() -> [WalkStep]? {
        guard let array = arrays.popLast() else { return nil }
        reused &+= 1
        return array
    }

    /// Gives `steps` (a new walk's, with a step or none) room for `capacity`: a kept array when there
    /// is one, else its own grown.
    @inline(__always) func makeRoom(in steps: inout [WalkStep]) {
        guard var spare = take() else {
            steps.reserveCapacity(SpareSteps.capacity)
            return
        }
        if !steps.isEmpty { spare.append(contentsOf: steps) }
        steps = spare
    }

    /// Keeps `steps`' storage for a later walk, leaving `steps` empty, when it is of the size walks are
    /// made with and fewer than `limit` are kept; otherwise `steps` stays as it is, for its owner to
    /// free (a much larger array, a cut-off walk's, is not worth holding).
    public func recycle(_ steps: inout [WalkStep]) {
        guard arrays.count < SpareSteps.limit, steps.capacity >= SpareSteps.capacity,
            steps.capacity < 2 * SpareSteps.capacity
        else { return }
        var kept: [WalkStep] = []
        swap(&kept, &steps)
        // Shared storage (a copy of the walk kept elsewhere) would be copied here, not emptied.
        kept.removeAll(keepingCapacity: true)
        arrays.append(kept)
    }
}
