import PathTraceCore
import Testing

private let sid = SessionID("ab12") ?? SessionID.random()

private func filter(
    proto: String? = nil, src: String? = nil, dst: String? = nil, sport: String? = nil, dport: String? = nil,
    iface: String? = nil, ipVersion: Int? = nil
) -> WalkFilter {
    var f = WalkFilter()
    f.proto = proto.flatMap(IPProtocol.number)
    f.src = src.flatMap(IPNetwork.init)
    f.dst = dst.flatMap(IPNetwork.init)
    f.sport = sport.flatMap(PortRange.init)
    f.dport = dport.flatMap(PortRange.init)
    f.iface = iface
    f.ipVersion = ipVersion
    return f
}

private func planError(_ body: () throws -> TraceRulePlan) -> TraceRulePlanError? {
    do {
        _ = try body()
        return nil
    } catch let e as TraceRulePlanError {
        return e
    } catch {
        return nil
    }
}

@Suite struct TraceRulePlanTests {
    @Test func legacyPlanInstallsTraceInRawPreroutingAndOutputForBothFamilies() throws {
        let plan = try TraceRulePlan.make(
            filter: filter(proto: "tcp", dport: "3128", iface: "virbr0"), backend: .legacy, session: sid)
        #expect(plan.families == [.ipv4, .ipv6])
        #expect(
            plan.sysctls == [
                SysctlSetting(key: "net.netfilter.nf_log.2", value: "nfnetlink_log"),
                SysctlSetting(key: "net.netfilter.nf_log.10", value: "nfnetlink_log"),
            ])
        #expect(plan.sysctls.map(\.path) == ["/proc/sys/net/netfilter/nf_log/2", "/proc/sys/net/netfilter/nf_log/10"])
        #expect(plan.rules.count == 4)
        let spec = [
            "-p", "tcp", "-i", "virbr0", "-m", "tcp", "--dport", "3128", "-m", "comment", "--comment",
            "pathtrace:ab12", "-m", "limit", "--limit", "100/second", "-j", "TRACE",
        ]
        #expect(plan.rules[0].install.argv == ["iptables-legacy", "-w", "-t", "raw", "-I", "PREROUTING"] + spec)
        #expect(plan.rules[0].remove.argv == ["iptables-legacy", "-w", "-t", "raw", "-D", "PREROUTING"] + spec)
        #expect(plan.rules[0].check.argv == ["iptables-legacy", "-w", "-t", "raw", "-C", "PREROUTING"] + spec)
        #expect(plan.rules[0].install.stdin == nil)
        // OUTPUT matches the outgoing interface.
        #expect(plan.rules[1].install.argv.contains("-o"))
        #expect(!plan.rules[1].install.argv.contains("-i"))
        #expect(plan.rules[2].install.argv.first == "ip6tables-legacy")
        #expect(
            plan.rules.map(\.label) == [
                "ipv4 raw:PREROUTING", "ipv4 raw:OUTPUT", "ipv6 raw:PREROUTING", "ipv6 raw:OUTPUT",
            ])
        #expect(plan.insertedCount(family: .ipv4, table: "raw", chain: "PREROUTING") == 1)
    }

    /// mixed: nft's marking table (its trace flag reaches legacy x_tables too) and the legacy loggers bound
    /// to nfnetlink_log, as the legacy backend binds them; no TRACE rule, so no raw table is loaded.
    @Test func mixedPlanIsTheNftTableAndTheLegacyLoggers() throws {
        let plan = try TraceRulePlan.make(
            filter: filter(proto: "tcp", dport: "8080"), backend: .mixed, session: sid, replies: true)
        let nft = try TraceRulePlan.make(
            filter: filter(proto: "tcp", dport: "8080"), backend: .nft, session: sid, replies: true)
        #expect(plan.rules == nft.rules)
        #expect(plan.rules.map(\.label) == ["nft inet \(sid.nftTable)"])
        #expect(
            plan.sysctls == [
                SysctlSetting(key: "net.netfilter.nf_log.2", value: "nfnetlink_log"),
                SysctlSetting(key: "net.netfilter.nf_log.10", value: "nfnetlink_log"),
            ])
        let v4 = try TraceRulePlan.make(filter: filter(proto: "icmp"), backend: .mixed, session: sid)
        #expect(v4.sysctls.map(\.key) == ["net.netfilter.nf_log.2"])
        // A DNAT's replies are followed with chains in the session's own table, as with nft.
        let source = try #require(plan.rules.first)
        #expect(source.remove.argv == ["nft", "delete", "table", "inet", sid.nftTable])
    }

    @Test func removalIsTheInstallSpecWithDelete() throws {
        for backend in [TraceBackend.legacy, .nflog] {
            let chains = [ChainRef(family: .ipv4, table: "filter", chain: "INPUT", isBuiltin: true)]
            let plan = try TraceRulePlan.make(
                filter: filter(src: "10.1.2.3/8"), backend: backend, session: sid, chains: chains)
            for rule in plan.rules {
                var install = rule.install.argv
                var remove = rule.remove.argv
                let i = try #require(install.firstIndex(of: "-I"))
                let d = try #require(remove.firstIndex(of: "-D"))
                install.remove(at: i)
                remove.remove(at: d)
                if backend == .nflog { install.remove(at: i + 1) }  // the position "1"
                #expect(install == remove)
            }
        }
    }

    @Test func rateZeroHasNoLimitMatch() throws {
        let rate = try #require(TraceRate("0"))
        for backend in [TraceBackend.legacy, .nft] {
            let plan = try TraceRulePlan.make(filter: WalkFilter(), backend: backend, rate: rate, session: sid)
            for rule in plan.rules {
                #expect(!rule.install.argv.contains("limit"))
                #expect(!(rule.install.stdin ?? "").contains("limit"))
            }
        }
        let limited = try TraceRulePlan.make(filter: WalkFilter(), backend: .nft, rate: .default, session: sid)
        #expect(limited.rules[0].install.stdin?.contains("limit rate 100/second meta nftrace set 1") == true)
    }

    @Test func rateParsing() {
        #expect(TraceRate("100/s")?.perSecond == 100)
        #expect(TraceRate("5/second")?.perSecond == 5)
        #expect(TraceRate("0")?.isUnlimited == true)
        #expect(TraceRate("10/min") == nil)
        #expect(TraceRate("-1") == nil)
        #expect(TraceRate("20000") == nil)
        #expect(TraceRate("1;reboot") == nil)
    }

    @Test func ipv6FiltersSelectIp6tables() throws {
        for f in [filter(ipVersion: 6), filter(src: "2001:db8::1/64"), filter(proto: "icmpv6")] {
            let plan = try TraceRulePlan.make(filter: f, backend: .legacy, session: sid)
            #expect(plan.families == [.ipv6])
            #expect(plan.rules.allSatisfy { $0.install.argv.first == "ip6tables-legacy" })
            #expect(plan.sysctls.map(\.key) == ["net.netfilter.nf_log.10"])
        }
        let v6 = try TraceRulePlan.make(filter: filter(src: "2001:db8::1/64"), backend: .legacy, session: sid)
        #expect(v6.rules[0].install.argv.contains("2001:db8::/64"))
        let v4 = try TraceRulePlan.make(filter: filter(proto: "icmp"), backend: .legacy, session: sid)
        #expect(v4.rules.allSatisfy { $0.install.argv.first == "iptables-legacy" })
        #expect(v4.rules[0].install.argv.prefix(8).contains("icmp"))
    }

    @Test func contradictionsAreErrors() {
        #expect(
            planError {
                try TraceRulePlan.make(filter: filter(src: "10.0.0.0/8", ipVersion: 6), backend: .nft, session: sid)
            }
                == .noFamilyLeft("-6 and --src 10.0.0.0/8 (families: ipv4, ipv6)"))
        #expect(
            planError {
                try TraceRulePlan.make(filter: filter(proto: "icmp", dport: "80"), backend: .legacy, session: sid)
            }
                == .portsNeedTCPOrUDP(proto: 1))
        #expect(
            planError {
                try TraceRulePlan.make(filter: filter(proto: "icmp"), backend: .legacy, session: sid, families: [.ipv6])
            } != nil)
        #expect(planError { try TraceRulePlan.make(filter: WalkFilter(), backend: .nflog, session: sid) } == .noChains)
    }

    @Test func hostileInterfaceNamesNeverReachARule() {
        for name in ["eth0; reboot", "a\"b", "x y", "$(id)", "eth0\n-j ACCEPT", "../../etc", "", "aaaaaaaaaaaaaaaa"] {
            for backend in TraceBackend.allCases {
                let chains = [ChainRef(family: .ipv4, table: "filter", chain: "INPUT", isBuiltin: true)]
                #expect(
                    planError {
                        try TraceRulePlan.make(
                            filter: filter(iface: name), backend: backend, session: sid, chains: chains)
                    } == .invalidInterface(name))
            }
        }
    }

    @Test func valuesArePassedAsSingleArgvElements() throws {
        let plan = try TraceRulePlan.make(
            filter: filter(src: "192.168.122.17", dst: "10.0.0.0/8", sport: "1000:2000", iface: "veth-a.1@x"),
            backend: .legacy, session: sid)
        let argv = plan.rules[0].install.argv
        #expect(argv.contains("veth-a.1@x"))
        #expect(argv.contains("192.168.122.17/32"))
        #expect(argv.contains("1000:2000"))
        #expect(argv.contains("pathtrace:ab12"))
        // Ports without a protocol become one rule for TCP and one for UDP.
        #expect(plan.rules.count == 4)
        #expect(plan.rules.map { $0.install.argv[7] } == ["tcp", "udp", "tcp", "udp"])
        #expect(argv.allSatisfy { !$0.contains(" ") })
    }

    @Test func nftPlanIsOneOwnedTableAtRawMinusOne() throws {
        let plan = try TraceRulePlan.make(
            filter: filter(src: "10.1.2.3/8", sport: "1000:2000", dport: "3128", iface: "eth0"), backend: .nft,
            session: sid)
        #expect(plan.sysctls.isEmpty)
        #expect(plan.rules.count == 1)
        let rule = plan.rules[0]
        #expect(rule.install.argv == ["nft", "-f", "-"])
        #expect(rule.remove.argv == ["nft", "delete", "table", "inet", "pathtrace_ab12"])
        #expect(rule.check.argv == ["nft", "list", "table", "inet", "pathtrace_ab12"])
        #expect(
            rule.install.stdin == """
                table inet pathtrace_ab12 {
                \tchain prerouting {
                \t\ttype filter hook prerouting priority -301; policy accept;
                \t\tip saddr 10.0.0.0/8 meta l4proto { tcp, udp } th sport 1000-2000 th dport 3128 iifname "eth0" limit rate 100/second meta nftrace set 1
                \t}
                \tchain output {
                \t\ttype filter hook output priority -301; policy accept;
                \t\tip saddr 10.0.0.0/8 meta l4proto { tcp, udp } th sport 1000-2000 th dport 3128 oifname "eth0" limit rate 100/second meta nftrace set 1
                \t}
                }

                """)
        let v6 = try TraceRulePlan.make(filter: filter(proto: "udp", ipVersion: 6), backend: .nft, session: sid)
        #expect(v6.rules[0].install.stdin?.contains("\t\tmeta nfproto ipv6 meta l4proto udp limit") == true)
    }

    @Test func nflogPlanPutsOneRuleAtTheHeadOfEveryChain() throws {
        let save = """
            # Generated by iptables-save v1.8.9
            *raw
            :PREROUTING ACCEPT [6:504]
            :OUTPUT ACCEPT [7:544]
            :NOTRACK-LAN - [0:0]
            -A PREROUTING -i lo -j CT --notrack
            COMMIT
            *filter
            :INPUT ACCEPT [0:0]
            :FORWARD DROP [0:0]
            :OUTPUT ACCEPT [0:0]
            :DOCKER-USER - [0:0]
            COMMIT
            """
        let chains = try ChainRef.parseSave(save, family: .ipv4)
        #expect(
            chains.map { "\($0.table):\($0.chain):\($0.isBuiltin)" } == [
                "raw:PREROUTING:true", "raw:OUTPUT:true", "raw:NOTRACK-LAN:false", "filter:INPUT:true",
                "filter:FORWARD:true", "filter:OUTPUT:true", "filter:DOCKER-USER:false",
            ])
        let plan = try TraceRulePlan.make(
            filter: filter(iface: "eth0"), backend: .nflog, rate: TraceRate(perSecond: 0) ?? .default, session: sid,
            nflogGroup: 7, chains: chains)
        // Every chain logs the marked packet; raw (the first table) selects it at PREROUTING and OUTPUT;
        // the built-in chains after conntrack save and restore the bit on the connection.
        #expect(plan.rules.count == 7 + 2 + 3 * 2)
        #expect(plan.sysctls.isEmpty)
        let tag = ["-m", "comment", "--comment", "pathtrace:ab12"]
        let bit = "0x20000000/0x20000000"
        #expect(
            plan.rules.contains {
                $0.install.argv == [
                    "iptables-legacy", "-w", "-t", "raw", "-I", "NOTRACK-LAN", "1", "-m", "mark", "--mark", bit,
                ] + tag + ["-j", "NFLOG", "--nflog-group", "7", "--nflog-prefix", "pt:raw:NOTRACK-LAN"]
            })
        // In install order, each at position 1: a chain reads select, save, restore, log from the top.
        let prerouting = plan.rules.filter { $0.chain == "PREROUTING" }.map { Array($0.install.argv.dropFirst(7)) }
        #expect(
            prerouting == [
                ["-m", "mark", "--mark", bit] + tag + [
                    "-j", "NFLOG", "--nflog-group", "7", "--nflog-prefix", "pt:raw:PREROUTING",
                ],
                ["-i", "eth0"] + tag + ["-j", "MARK", "--set-xmark", bit],
            ])
        let input = plan.rules.filter { $0.chain == "INPUT" }.map { Array($0.install.argv.dropFirst(7)) }
        #expect(
            input == [
                ["-m", "mark", "--mark", bit] + tag + [
                    "-j", "NFLOG", "--nflog-group", "7", "--nflog-prefix", "pt:filter:INPUT",
                ],
                [
                    "-m", "mark", "!", "--mark", bit, "-m", "connmark", "--mark", bit, "-m", "conntrack", "--ctdir",
                    "REPLY",
                ]
                    + tag + [
                        "-j", "MARK", "--set-xmark", bit,
                    ],
                ["-m", "mark", "--mark", bit] + tag + ["-j", "CONNMARK", "--set-xmark", bit],
            ])
        // Only the selecting rules carry the filter; the user chain only logs.
        #expect(plan.rules.filter { $0.install.argv.contains("eth0") }.count == 2)
        #expect(plan.rules.filter { $0.chain == "DOCKER-USER" }.count == 1)
        #expect(
            plan.rules.filter { $0.chain == "OUTPUT" && $0.table == "raw" }.last?.install.argv.contains("-o") == true)
        #expect(
            planError {
                try TraceRulePlan.make(
                    filter: WalkFilter(), backend: .nflog, session: sid, nflogGroup: 0, chains: chains)
            } == .invalidNflogGroup(0))
        #expect(throws: TraceRulePlanError.invalidChain("-bad")) {
            try ChainRef.parseSave("*filter\n:-bad - [0:0]\nCOMMIT\n", family: .ipv4)
        }
    }

    @Test func sessionIDs() {
        #expect(SessionID("abc123") != nil)
        #expect(SessionID("ABC") == nil)
        #expect(SessionID("a b") == nil)
        #expect(SessionID("../x") == nil)
        #expect(SessionID.random().rawValue.count == 8)
    }
}
